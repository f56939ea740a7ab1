"""The on-call flows in a real browser: log in, find a stuck payment from the dashboard, open its dead
letter, requeue it with confirmation, stop and start PROD receivers with confirmation and see the states
change. The same run saves the README's screenshots (`make screenshots` keeps them in docs/screenshots)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from receivers.dead_letters import build_wrapper
from receivers.handlers import DeadLetterCategory, serialize_queue_event
from receivers.models import DeadLetterEvent
from receivers.probe import probe_event
from receivers.queues import send_text
from tests.browser.conftest import save_full_page, wait_for, wait_for_text
from tests.queue_support import visible_events
from tests.receivers.conftest import TRACEPARENT, send_probe, wait_until
from tests.transactions.factories import TX, C, event_json
from tests.transactions.histories import history
from transactions.store import store_incoming_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def screenshots(tmp_path) -> Path:
    return Path(os.environ.get("CONSOLE_SCREENSHOT_DIR") or tmp_path)


@pytest.fixture
def incident(start_consumer):
    """A payment CLOSED since 2023 whose closure retries ran out (a stored dead letter), 25 refunds waiting,
    recent probe traffic with one dead letter, and one PROD consumer running."""
    for event in history("closed OK"):
        store_incoming_event(event)
    retry = event_json(C.TRANSACTION_CLOSURE_RETRIED_EVENT, transaction_id=TX)
    original = serialize_queue_event(retry, {"traceparent": TRACEPARENT})
    wrapper = build_wrapper(
        DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT,
        original,
        "close-payment-retry",
        "no closure retry attempt left (3 of 3): Nodo answered 503 Service Unavailable",
        dequeue_count=1,
        transaction_id=TX,
        event_code=retry["eventCode"],
    )
    send_text("dead-letter", wrapper)
    for _ in range(25):
        send_text("refund", serialize_queue_event(probe_event(), {}))
    for _ in range(12):
        send_probe()
    send_probe({"deadLetter": "REFUND_MANUAL_CHECK_REQUIRED"})
    assert start_consumer("probe", "--once").wait() == 0
    assert start_consumer("dead-letter", "--once").wait() == 0
    running = start_consumer("probe", "close-payment")
    running.wait_for_output("consuming probe, close-payment as ")
    instance = re.search(r"consuming probe, close-payment as (\S+)", running.output).group(1)
    return DeadLetterEvent.objects.get(transaction_id=TX), instance


def every_column_fits(driver) -> bool:
    """Whether the changelist's table fits its box beside the sidebar and the filters (1440 px window)."""
    script = "const box = document.querySelector('.results'); return [box.scrollWidth, box.clientWidth]"
    scroll_width, visible_width = driver.execute_script(script)
    return scroll_width <= visible_width


def receiver_states(driver, instance: str) -> set[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"tr.receiver-row[data-process='{instance}']")
    return {row.get_attribute("data-state") for row in rows}


def wait_for_states(driver, instance: str, wanted: set[str]) -> None:
    def seen() -> bool:
        driver.refresh()
        wait_for(driver, By.ID, "receivers")
        return receiver_states(driver, instance) == wanted

    wait_until(seen, f"receivers {wanted}")


def test_an_operator_finds_a_stuck_payment_requeues_its_dead_letter_and_stops_and_starts_prod(
    console, incident, screenshots
):
    dead_letter, instance = incident
    # The dashboard: the stuck payment, the dead letters, the refund backlog.
    console.refresh()
    assert wait_for(console, By.ID, "stuck-total").text == "1"
    refund_backlog = console.find_element(By.CSS_SELECTOR, "#queue-refund td a").text
    assert refund_backlog == "25"
    save_full_page(console, screenshots / "dashboard.png")

    # From the stuck count to the payment, and from the payment to its dead letter.
    console.find_element(By.ID, "stuck-total").click()
    assert every_column_fits(console), "the transaction list needs no horizontal scrolling"
    console.find_element(By.LINK_TEXT, TX).click()
    wait_for(console, By.ID, "transaction-dead-letters")
    save_full_page(console, screenshots / "transaction.png")
    console.find_element(By.CSS_SELECTOR, "#transaction-dead-letters a").click()
    wait_for(console, By.ID, "requeue-link")
    assert "RETRY_EVENT_NO_ATTEMPTS_LEFT" in console.page_source
    save_full_page(console, screenshots / "dead-letter.png")

    console.find_element(By.LINK_TEXT, "Dead letter events").click()
    wait_for(console, By.ID, "result_list")
    assert every_column_fits(console), "the dead-letter list needs no horizontal scrolling"
    console.back()

    # Requeue, confirmed.
    console.find_element(By.ID, "requeue-link").click()
    wait_for(console, By.ID, "requeue-form")
    assert visible_events("close-payment-retry") == []
    console.find_element(By.ID, "confirm-requeue").click()
    wait_for_text(console, "Requeued 1 dead letter(s).")
    assert "requeued" in console.find_element(By.CLASS_NAME, "field-state").text
    [requeued] = visible_events("close-payment-retry")
    assert requeued["event"]["transactionId"] == TX
    assert DeadLetterEvent.objects.get(pk=dead_letter.pk).requeued_by == "oncall"

    # Stop PROD, confirmed, and see the receivers stop; then start them again.
    console.find_element(By.CSS_SELECTOR, "#nav-sidebar a[href$='/receivercommand/status/']").click()
    wait_for_states(console, instance, {"running"})
    console.find_element(By.ID, "stop-PROD").click()
    wait_for(console, By.ID, "command-confirmation")
    assert "STOP PROD" in console.page_source
    assert "probe (running)" in console.page_source
    console.find_element(By.ID, "confirm-command").click()
    wait_for_text(console, "Sent STOP to PROD.")
    wait_for_states(console, instance, {"stopped by command"})
    console.find_element(By.ID, "start-PROD").click()
    wait_for(console, By.ID, "command-confirmation")
    console.find_element(By.ID, "confirm-command").click()
    wait_for_text(console, "Sent START to PROD.")
    wait_for_states(console, instance, {"running"})


def test_the_dashboard_refreshes_itself(console, queues, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(CONSOLE_REFRESH_SECONDS=2)
    console.refresh()
    first = wait_for(console, By.ID, "dashboard-read-at").text

    send_text("refund", serialize_queue_event(probe_event(), {}))

    # Read in one script: the refresh may replace the elements between a lookup and a read.
    def shown(selector: str) -> str:
        return console.execute_script(f"return document.querySelector('{selector}').textContent")

    wait_until(lambda: shown("#dashboard-read-at") != first, "a newer reading")
    wait_until(lambda: shown("#queue-refund td a") == "1", "the new backlog")
