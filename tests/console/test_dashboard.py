"""The dashboard on the admin index and behind the operator key: figures from real Azurite queues and
real `consume_queue` processes, links to the lists behind them, and a constant number of queries."""

import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from receivers.handlers import serialize_queue_event
from receivers.models import DeadLetterEvent
from receivers.probe import probe_event
from receivers.queues import QUEUES, register_queue, send_text
from tests.receivers.conftest import send_probe, wait_until
from tests.statsd_support import StatsdListener
from tests.transactions.histories import history
from transactions.store import store_incoming_event

pytestmark = pytest.mark.django_db(transaction=True)

JSON_URL = "/event-dispatcher/console/dashboard"


def read_json(client, api_headers) -> dict:
    response = client.get(JSON_URL, headers=api_headers)
    assert response.status_code == 200
    return response.json()


def queue_figures(document: dict, key: str) -> dict:
    return next(queue for queue in document["queues"] if queue["key"] == key)


def finished_counts(output: str) -> dict[str, int]:
    """The outcome totals a consumer process printed when it finished."""
    match = re.search(r"finished: processed=(\d+) retried=(\d+) dead-lettered=(\d+)", output)
    assert match, output
    return dict(zip(("processed", "retried", "dead_lettered"), map(int, match.groups()), strict=True))


def test_every_registered_queue_is_listed_with_its_backlog_and_oldest_message(queues, client, api_headers):
    for _ in range(25):
        send_text("refund", serialize_queue_event(probe_event(), {}))

    document = read_json(client, api_headers)

    assert [queue["key"] for queue in document["queues"]] == list(QUEUES)
    refund = queue_figures(document, "refund")
    assert refund["backlog"] == 25
    assert 0 <= refund["oldestVisibleAgeSeconds"] < 60
    assert refund["error"] is None
    assert queue_figures(document, "expiration")["backlog"] == 0
    assert queue_figures(document, "expiration")["oldestVisibleAgeSeconds"] is None


def test_the_admin_index_shows_the_backlog_and_links_it_to_the_queue_page(queues, admin_client):
    for _ in range(25):
        send_text("refund", serialize_queue_event(probe_event(), {}))

    index = admin_client.get("/admin/").content.decode()

    row = index[index.index('id="queue-refund"') :].split("</tr>")[0]
    assert '<a href="/admin/console/queues/refund/" title="approximate count, visible and hidden">25</a>' in row
    queue_page = admin_client.get("/admin/console/queues/refund/").content.decode()
    assert queue_page.count("<td>PROBE_EVENT</td>") == 25
    assert "Figures read at" in index
    assert re.search(r"Figures read at <strong id=\"dashboard-read-at\">[\d-]+ [\d:]+ (CET|CEST)</strong>", index)
    assert "Refreshes every 15 s" in index
    assert 'data-url="/admin/console/dashboard/"' in index
    assert 'id="dashboard"' in admin_client.get("/admin/").content.decode()


def test_the_fragment_the_index_refreshes_from_holds_the_same_figures(queues, admin_client):
    send_text("refund", serialize_queue_event(probe_event(), {}))

    fragment = admin_client.get("/admin/console/dashboard/").content.decode()

    assert 'id="queue-refund"' in fragment
    assert "<html" not in fragment


def test_outcomes_per_minute_are_what_real_consumer_processes_report(queues, start_consumer, client, api_headers):
    for _ in range(6):
        send_probe()
    for _ in range(2):
        send_probe({"deadLetter": "REFUND_MANUAL_CHECK_REQUIRED"})
    first = start_consumer("probe", "--once")
    assert first.wait() == 0
    # Two slow messages on one thread with a 1 s lease: the second is reached after its lease ran out,
    # left for redelivery (retried), and handled when it comes back.
    for _ in range(2):
        send_probe({"sleepSeconds": 1.5})
    second = start_consumer("probe", "--once", "--worker-threads", "1", "--visibility-timeout", "1")
    assert second.wait() == 0
    reported = {
        outcome: finished_counts(first.output)[outcome] + finished_counts(second.output)[outcome]
        for outcome in ("processed", "retried", "dead_lettered")
    }
    assert reported["processed"] == 8
    assert reported["dead_lettered"] == 2
    assert reported["retried"] >= 1

    probe = queue_figures(read_json(client, api_headers), "probe")

    assert probe["totals"]["5m"] == reported
    assert probe["totals"]["60m"] == reported
    assert probe["perMinute"]["5m"] == {outcome: round(count / 5, 3) for outcome, count in reported.items()}
    assert probe["perMinute"]["60m"]["processed"] == round(8 / 60, 3)
    assert queue_figures(read_json(client, api_headers), "refund")["totals"]["5m"]["processed"] == 0


def test_consumers_serving_each_queue_follow_start_and_stop(queues, start_consumer, client, api_headers, admin_client):
    start_consumer("probe", "refund", "send-sms")  # send-sms: a queue another app registers
    start_consumer("refund")

    def consumers() -> dict[str, int]:
        return {queue["key"]: queue["consumers"] for queue in read_json(client, api_headers)["queues"]}

    wait_until(lambda: consumers()["refund"] == 2, "two processes serving refund")
    assert consumers()["probe"] == 1
    assert consumers()["send-sms"] == 1
    assert consumers()["expiration"] == 0
    document = read_json(client, api_headers)
    assert document["receivers"]["PROD"]["liveProcesses"] == 2
    assert document["receivers"]["PROD"]["receivers"]["running"] == 4

    admin_client.post(
        "/admin/receivers/receivercommand/status/", {"command": "STOP", "version": "PROD", "confirm": "yes"}
    )

    wait_until(lambda: consumers()["refund"] == 0, "nobody serving refund once PROD is stopped")
    stopped = read_json(client, api_headers)["receivers"]["PROD"]["receivers"]
    assert stopped["stopped by command"] == 4
    assert stopped["running"] == 0


def test_new_dead_letters_are_counted_per_category_and_linked(
    queues, start_consumer, client, api_headers, admin_client
):
    for category in ("REFUND_MANUAL_CHECK_REQUIRED", "REFUND_MANUAL_CHECK_REQUIRED", "PROCESSING_ERROR"):
        send_probe({"deadLetter": category})
    assert start_consumer("probe", "--once").wait() == 0
    assert start_consumer("dead-letter", "--once").wait() == 0
    DeadLetterEvent.objects.filter(category="PROCESSING_ERROR").update(state=DeadLetterEvent.State.RESOLVED)

    document = read_json(client, api_headers)
    index = admin_client.get("/admin/").content.decode()

    assert document["deadLetters"]["new"] == {
        "EVENT_PARSING_ERROR": 0,
        "PROCESSING_ERROR": 0,
        "RETRY_EVENT_NO_ATTEMPTS_LEFT": 0,
        "REFUND_MANUAL_CHECK_REQUIRED": 2,
        "SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT": 0,
    }
    assert document["deadLetters"]["newTotal"] == 2
    link = "/admin/receivers/deadletterevent/?state__exact=NEW&amp;category__exact=REFUND_MANUAL_CHECK_REQUIRED"
    assert f'<a href="{link}" class="console-alert">REFUND_MANUAL_CHECK_REQUIRED: 2</a>' in index
    behind = admin_client.get(link.replace("&amp;", "&")).content.decode()
    assert "2 dead letter events" in behind


def test_stuck_transactions_are_counted_per_status_and_linked(queues, client, api_headers, admin_client):
    for event in history("closed OK"):  # CLOSED since 2023: stuck
        store_incoming_event(event)

    document = read_json(client, api_headers)
    index = admin_client.get("/admin/").content.decode()

    assert document["stuckTransactions"] == {"olderThanMinutes": 90, "count": 1, "byStatus": {"CLOSED": 1}}
    assert 'href="/admin/transactions/transaction/?stuck=90&amp;status__exact=CLOSED"' in index


def test_gone_processes_are_counted_per_version(queues, client, api_headers, redis_client):
    document = {
        "consumerInstanceId": "event-dispatcher-old",
        "queriedAt": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "version": "STAGING",
        "receiverStatuses": [{"name": QUEUES["refund"].receiver_name, "status": "UP"}],
    }
    redis_client.hset("receiver-last-seen", "event-dispatcher-old", json.dumps(document))

    staging = read_json(client, api_headers)["receivers"]["STAGING"]

    assert (staging["liveProcesses"], staging["goneProcesses"], staging["receivers"]["gone"]) == (0, 1, 1)


def test_a_queue_registered_later_appears_without_changes(queues, client, api_headers):
    register_queue("probe-copy", "DIAGNOSTIC_PROBE_QUEUE_NAME")
    try:
        keys = [queue["key"] for queue in read_json(client, api_headers)["queues"]]
    finally:
        del QUEUES["probe-copy"]

    assert keys[-1] == "probe-copy"


def test_the_json_needs_the_operator_key(client):
    assert client.get(JSON_URL).status_code == 401
    assert client.get(JSON_URL, headers={"x-api-key": "wrong"}).status_code == 401


def test_the_index_costs_the_same_queries_however_many_rows(queues, admin_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/admin/").status_code == 200
        return len(captured)

    few = queries()
    for index in range(20):
        DeadLetterEvent.store(
            {
                "id": f"dl-{index}",
                "category": "PROCESSING_ERROR",
                "dead_lettered_at": timezone.now(),
                "original_message": f"text {index}",
                "dead_letter_message": "{}",
            }
        )
    for event in history("closed OK"):
        store_incoming_event(event)

    assert queries() == few


def test_the_same_figures_go_out_as_statsd_gauges(queues, settings):
    for _ in range(3):
        send_text("refund", serialize_queue_event(probe_event(), {}))
    listener = StatsdListener(prefix="dispatcher.test.notifications.api.")
    settings.DISPATCHER = settings.DISPATCHER.replace(
        STATSD_ENABLED=True,
        STATSD_HOST="127.0.0.1",
        STATSD_PORT=listener.port,
        STATSD_PREFIX="dispatcher",
        ENVIRONMENT="test",
    )
    try:
        call_command("console_gauges", "--once")
        gauges = {name: value for name, value, kind in listener.metrics() if kind == "g"}
    finally:
        listener.close()

    assert gauges["console.queue.refund.backlog"] == "3"
    assert gauges["console.queue.refund.consumers"] == "0"
    assert gauges["console.queue.probe.processed_per_minute.5m"] == "0.0"
    assert gauges["console.dead_letters.new.PROCESSING_ERROR"] == "0"
    assert gauges["console.transactions.stuck"] == "0"
    assert gauges["console.receivers.PROD.running"] == "0"
