"""The transactional outbox and its relay (spec Part A §11): decisions, handled marks, the sweep,
outages, pruning and the backlog figures, through real Azurite queues and the test database."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from dispatcher_site.local_servers import azurite_connection_string, free_port
from receivers.models import HandledMessage, OutboxMessage
from receivers.outbox import Outbox
from receivers.processing import Outcome, decide_message, process_message
from receivers.queues import queue_client
from receivers.relay import OutboxRelay, prune, relay_due_rows, relay_rows, send_and_mark
from tests.queue_support import committed_rows
from tests.receivers.conftest import TRACEPARENT, queue_length, queue_texts, send_probe, wait_until
from tests.statsd_support import StatsdListener

pytestmark = pytest.mark.django_db(transaction=True)

State = OutboxMessage.State


@pytest.fixture
def fast_relay(settings):
    """A relay that takes rows one second after their decision and backs off briefly."""
    settings.DISPATCHER = settings.DISPATCHER.replace(
        OUTBOX_RELAY_GRACE_SECONDS=1, OUTBOX_RELAY_INTERVAL_SECONDS=0.1, OUTBOX_RELAY_MAX_BACKOFF_SECONDS=1
    )


def forwarding_handler(calls: list, queue_key: str = "refund"):
    def forward(message, outbox):
        calls.append(message.dequeue_count)
        with outbox.decision():
            outbox.send(queue_key, message.raw_event, message.tracing_info)

    return forward


def receive(queue_key: str = "probe", lease: int = 1):
    [received] = queue_client(queue_key).receive_messages(visibility_timeout=lease)
    return received


def receive_again(queue_key: str = "probe"):
    """The same message once its lease ran out (its next delivery)."""
    return wait_until(lambda: list(queue_client(queue_key).receive_messages(visibility_timeout=5)), "redelivery")[0]


def test_a_decision_commits_its_rows_and_the_runtime_relays_them_before_deleting(queues, probe_handler):
    calls = []
    probe_handler(forwarding_handler(calls))
    send_probe()

    outcome = process_message("probe", receive())

    assert outcome == Outcome.PROCESSED
    [row] = OutboxMessage.objects.all()
    assert (row.queue_key, row.state, row.source_queue) == ("refund", State.SENT, "probe")
    assert row.sent_at is not None
    assert len(queue_texts("refund")) == 1
    assert queue_length("probe") == 0
    assert HandledMessage.objects.filter(queue="probe").count() == 1


def test_a_message_redelivered_after_its_decision_committed_is_not_handled_again(queues, probe_handler, fast_relay):
    calls = []
    probe_handler(forwarding_handler(calls))
    send_probe()
    first = receive(lease=2)
    decide_message("probe", first)  # the consumer dies here: nothing relayed, nothing deleted
    assert queue_length("refund") == 0

    outcome = process_message("probe", receive_again())

    assert outcome == Outcome.PROCESSED
    assert calls == [1], "the handler ran once, for the first delivery"
    assert len(queue_texts("refund")) == 1, "the committed follow-up, relayed by the redelivery"
    assert OutboxMessage.objects.get().state == State.SENT
    assert queue_length("probe") == 0


def test_two_consumers_holding_one_message_commit_one_decision(queues, probe_handler):
    """A lease ran out while the first consumer was still deciding: the handled mark lets one commit."""
    calls = []
    both_inside = threading.Barrier(2, timeout=10)

    def slow_forward(message, outbox):
        calls.append(message.dequeue_count)
        both_inside.wait()
        with outbox.decision():
            outbox.send("refund", message.raw_event, message.tracing_info)

    probe_handler(slow_forward)
    send_probe()
    first = receive()
    second = receive_again()
    outcomes = []

    def decide(received):
        outcome, outbox = decide_message("probe", received)
        outcomes.append((outcome, len(outbox.committed_row_ids)))

    threads = [threading.Thread(target=decide, args=(received,)) for received in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(calls) == [1, 2]
    assert sorted(outcomes) == [(Outcome.PROCESSED, 0), (Outcome.PROCESSED, 1)]
    assert OutboxMessage.objects.count() == 1
    assert HandledMessage.objects.count() == 1


def test_rows_written_outside_a_decision_are_refused():
    outbox = Outbox()

    with pytest.raises(RuntimeError, match="decision"):
        outbox.send("refund", {"transactionId": "t"}, {"traceparent": TRACEPARENT})


def test_the_sweep_relays_what_a_dead_consumer_left_once_its_grace_period_is_over(queues, probe_handler):
    probe_handler(forwarding_handler([]))
    send_probe()
    decide_message("probe", receive(lease=60))  # dies: the message stays leased for a minute

    assert relay_due_rows() == 0, "within the grace period the deciding process may still send it"
    OutboxMessage.objects.update(available_at=timezone.now())  # the grace period is over
    assert relay_due_rows() == 1

    assert len(queue_texts("refund")) == 1
    assert OutboxMessage.objects.get().state == State.SENT
    assert relay_due_rows() == 0


def test_two_relays_sweeping_at_once_send_each_row_once(queues, fast_relay):
    outbox = Outbox()
    with outbox.decision():
        for number in range(40):
            outbox.send("refund", {"transactionId": f"t{number}"}, {"traceparent": TRACEPARENT})
    OutboxMessage.objects.update(available_at=timezone.now())
    sent = []

    def sweep():
        sent.append(relay_due_rows())

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(sent) == 40
    texts = []
    client = queue_client("refund")
    while batch := list(client.receive_messages(max_messages=32, messages_per_page=32, visibility_timeout=60)):
        texts += [message.content for message in batch]
    assert len(texts) == 40
    assert len(set(texts)) == 40, "no row sent twice"
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {State.SENT}


def test_an_outage_keeps_the_rows_pending_with_a_back_off_and_loses_nothing(queues, fast_relay, settings):
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "t1"}, {"traceparent": TRACEPARENT})
        outbox.send("refund", {"transactionId": "t2"}, {"traceparent": TRACEPARENT})
    working = settings.DISPATCHER
    nobody_listens = azurite_connection_string(free_port())
    settings.DISPATCHER = working.replace(QUEUE_TRANSIENT_CONNECTION_STRING=nobody_listens)

    relay_rows(outbox.committed_row_ids)

    rows = list(OutboxMessage.objects.order_by("created_at"))
    assert [row.state for row in rows] == [State.PENDING, State.PENDING]
    assert rows[0].attempts == 1, "the first send failed"
    assert rows[1].attempts == 0, "after an outage the rest waits for the sweep"
    assert "ServiceRequestError" in rows[0].last_error
    settings.DISPATCHER = working

    def sweep_until_nothing_is_pending():
        relay_due_rows()
        return not OutboxMessage.objects.filter(state=State.PENDING).exists()

    wait_until(sweep_until_nothing_is_pending, "the sweep to send both rows once the service is back")

    assert len(queue_texts("refund")) == 2
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {State.SENT}


def test_the_deciding_process_leaves_rows_past_their_grace_period_to_the_sweep(queues):
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "t"}, {"traceparent": TRACEPARENT})
    OutboxMessage.objects.update(available_at=timezone.now() - timedelta(seconds=1))  # a sweep may hold it

    relay_rows(outbox.committed_row_ids)

    assert OutboxMessage.objects.get().state == State.PENDING
    assert queue_length("refund") == 0


def test_a_retry_relayed_late_becomes_visible_when_it_was_meant_to(queues):
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund-retry", {"transactionId": "t"}, {"traceparent": TRACEPARENT}, visibility_seconds=30)
    row = OutboxMessage.objects.get()
    decided = timezone.now() - timedelta(seconds=26)
    OutboxMessage.objects.filter(pk=row.pk).update(created_at=decided)

    send_and_mark([OutboxMessage.objects.get()])

    assert queue_texts("refund-retry") == [], "visible after the 4 s left of its 30, not at once"
    [message] = wait_until(lambda: queue_texts("refund-retry"), "the retry to become visible", timeout=10)
    assert message.startswith('{"event"')


def test_sent_rows_and_handled_marks_are_pruned_after_the_retention(queues, settings):
    old = timezone.now() - timedelta(seconds=settings.DISPATCHER.OUTBOX_RETENTION_SECONDS + 60)
    outbox = Outbox()
    with outbox.decision():
        for number in range(3):
            outbox.send("refund", {"transactionId": f"t{number}"}, {"traceparent": TRACEPARENT})
    first, second, pending = committed_rows(outbox)
    OutboxMessage.objects.filter(pk__in=[first.pk, second.pk]).update(state=State.SENT, sent_at=old)
    OutboxMessage.objects.filter(pk=second.pk).update(sent_at=timezone.now())
    HandledMessage.objects.create(queue_message_id="old", queue="probe", handled_at=old)
    HandledMessage.objects.create(queue_message_id="recent", queue="probe")

    assert prune() == (1, 1)

    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {second.pk, pending.pk}
    assert list(HandledMessage.objects.values_list("pk", flat=True)) == ["recent"]


def test_each_sweep_reports_the_backlog_as_statsd_gauges(queues, settings):
    listener = StatsdListener()
    settings.DISPATCHER = settings.DISPATCHER.replace(
        STATSD_ENABLED=True, STATSD_HOST="127.0.0.1", STATSD_PORT=listener.port
    )
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "t"}, {"traceparent": TRACEPARENT})  # within its grace period
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=30))

    OutboxRelay(threading.Event()).pass_once()

    gauges = {name.rsplit(".outbox.", 1)[-1]: float(value) for name, value, kind in listener.metrics() if kind == "g"}
    listener.close()
    assert gauges["pending"] == 1
    assert 30 <= gauges["oldest_pending_age_seconds"] < 60
    assert gauges["refused"] == 0


def test_an_old_pending_row_reports_the_outbox_degraded_without_failing_readiness(queues, client, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(OUTBOX_DEGRADED_AGE_SECONDS=60)
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "t"}, {"traceparent": TRACEPARENT})
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=120))

    readiness = client.get("/health/readiness")

    body = readiness.json()
    assert body["outbox"]["status"] == "DEGRADED"
    assert body["outbox"]["pending"] == 1
    assert body["outbox"]["oldestPendingAgeSeconds"] >= 120
    assert readiness.status_code == 200, "the web process still serves; consumers relay the rows"
