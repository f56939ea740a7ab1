"""Notifications retry (spec §5.6): the receipt mail again, the next retry, or giving up (with a refund for KO)."""

import json

import pytest

from tests.transactions.factories import NPG_AUTHORIZATION
from tests.transactions.flows.conftest import (
    dead_letters,
    deliver,
    hidden_count,
    requests_to,
    store,
    stored_codes,
    view_status,
    visible_events,
)
from tests.transactions.flows.stories import TRACING_INFO, story
from transactions import events as ev
from transactions.store import load_events

pytestmark = pytest.mark.django_db(transaction=True, available_apps=["transactions", "receivers"])

TX = "c0ffee0000000000000000000000c0de"
MAIL_PATH = "/notifications-service/emails"
QUEUE = "notifications-retry"


@pytest.fixture
def retry_settings(settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(
        NOTIFICATION_RETRY_EVENT_BASE_INTERVAL_SECONDS=600, NOTIFICATION_RETRY_EVENT_MAX_ATTEMPTS=3
    )


def notification_error(retry_count=None, until="notification error", **options):
    """Store a NOTIFICATION_ERROR history (and a retry event numbered `retry_count`); return the event to deliver."""
    events = story(until, **options)
    if retry_count is not None:
        events.append(
            ev.TransactionUserReceiptAddRetriedEvent.new(TX, ev.TransactionRetriedData(retry_count=retry_count))
        )
    store(events)
    return events[-1] if retry_count is not None or until != "expired" else events[-2]


def retried(retry_count):
    return ev.TransactionUserReceiptAddRetriedEvent.new(TX, ev.TransactionRetriedData(retry_count=retry_count))


def mail_fails(services):
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({}, status=503)


def mail_works(services):
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({"outcome": "OK"})


@pytest.mark.parametrize("retry_count", [None, 1, 3])
def test_a_mail_sent_on_retry_records_notified_ok(services, sent_messages, retry_settings, retry_count):
    mail_works(services)
    deliver(QUEUE, notification_error(retry_count))

    assert len(requests_to(services, MAIL_PATH)) == 1
    assert stored_codes(TX)[-1] == "TRANSACTION_USER_RECEIPT_ADDED_EVENT"
    assert view_status(TX) == "NOTIFIED_OK"
    assert sent_messages == []
    assert dead_letters() == []


def test_a_ko_mail_sent_on_retry_requests_the_refund_from_notified_ko(services, sent_messages, retry_settings):
    mail_works(services)
    deliver(QUEUE, notification_error(1, receipt_outcome="KO"))

    assert json.loads(requests_to(services, MAIL_PATH)[0].data)["templateId"] == "ko"
    events = load_events(TX)
    assert [e.event_code.value for e in events[-2:]] == [
        "TRANSACTION_USER_RECEIPT_ADDED_EVENT",
        "TRANSACTION_REFUND_REQUESTED_EVENT",
    ]
    refund = events[-1].to_json_dict()
    assert refund["data"] == {"statusBeforeRefunded": "NOTIFIED_KO", "gatewayAuthData": NPG_AUTHORIZATION}
    assert view_status(TX) == "REFUND_REQUESTED"
    assert visible_events("refund") == [{"event": refund, "tracingInfo": TRACING_INFO}]


def test_a_mail_sent_after_expiration_still_counts(services, sent_messages, retry_settings):
    mail_works(services)
    stored = story("expired", expired_from="notification error")
    store(stored)

    deliver(QUEUE, stored[-2])  # the ADD_USER_RECEIPT_ERROR event

    assert stored_codes(TX)[-2:] == ["TRANSACTION_EXPIRED_EVENT", "TRANSACTION_USER_RECEIPT_ADDED_EVENT"]
    assert view_status(TX) == "NOTIFIED_OK"


@pytest.mark.parametrize(("retry_count", "next_count"), [(None, 1), (1, 2), (2, 3)])
def test_a_failed_retry_schedules_the_next_without_a_new_error_event(
    services, sent_messages, retry_settings, retry_count, next_count
):
    mail_fails(services)
    incoming = notification_error(retry_count)
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    assert stored_codes(TX) == [*stored_before, "TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT"]
    retry = load_events(TX)[-1].to_json_dict()
    assert retry["data"] == {"retryCount": next_count}
    assert view_status(TX) == "NOTIFICATION_ERROR"
    assert sent_messages == [(QUEUE, {"event": retry, "tracingInfo": TRACING_INFO}, 600 * next_count)]
    assert hidden_count(QUEUE) == 1
    assert dead_letters() == []


def test_no_attempt_left_dead_letters_the_message_and_leaves_an_ok_receipt_alone(
    services, sent_messages, retry_settings
):
    mail_fails(services)
    incoming = notification_error(3)
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"], letter["sourceQueue"]) == (
        "RETRY_EVENT_NO_ATTEMPTS_LEFT",
        TX,
        "TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT",
        QUEUE,
    )
    assert json.loads(letter["originalMessage"]) == {"event": incoming.to_json_dict(), "tracingInfo": TRACING_INFO}
    assert stored_codes(TX) == stored_before
    assert view_status(TX) == "NOTIFICATION_ERROR"
    assert sent_messages == []
    assert hidden_count(QUEUE) == 0


def test_no_attempt_left_on_a_ko_receipt_still_requests_the_refund(services, sent_messages, retry_settings):
    mail_fails(services)
    deliver(QUEUE, notification_error(3, receipt_outcome="KO"))

    [letter] = dead_letters()
    assert letter["category"] == "RETRY_EVENT_NO_ATTEMPTS_LEFT"
    refund = load_events(TX)[-1].to_json_dict()
    assert refund["eventCode"] == "TRANSACTION_REFUND_REQUESTED_EVENT"
    assert refund["data"] == {"statusBeforeRefunded": "NOTIFICATION_ERROR", "gatewayAuthData": NPG_AUTHORIZATION}
    assert view_status(TX) == "REFUND_REQUESTED"
    assert visible_events("refund") == [{"event": refund, "tracingInfo": TRACING_INFO}]
    assert sent_messages == [("refund", {"event": refund, "tracingInfo": TRACING_INFO}, 0)]


@pytest.mark.parametrize(("until", "status"), [("notification requested", "NOTIFIED_OK"), ("expired", "EXPIRED")])
def test_a_transaction_not_in_notification_error_is_dead_lettered_without_a_mail(
    services, sent_messages, retry_settings, until, status
):
    stored = story(until, expired_from="notification requested")
    if until == "notification requested":
        stored.append(ev.TransactionUserReceiptAddedEvent.new(TX, stored[5].data))
    store(stored)

    deliver(QUEUE, retried(1))  # ignored by both statuses' reductions

    assert requests_to(services, MAIL_PATH) == []
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert f"status {status}, expected NOTIFICATION_ERROR" in letter["error"]
    assert view_status(TX) == status
    assert sent_messages == []
