"""What the runtime does with a parsed message: handler outcomes, the outbox, the dequeue limit, the span."""

import json

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import override_settings

from receivers.handlers import DeadLetterCategory, HandlerError, RetryLater
from receivers.models import DeadLetterEvent, ProbeReceipt
from receivers.processing import Outcome, process_message
from receivers.queues import queue_client, send_text
from tests.receivers.conftest import (
    TRACEPARENT,
    consume_once,
    dead_letters,
    hidden_dead_letters,
    queue_length,
    queue_texts,
    send_probe,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handled_message_is_deleted_and_counted_as_processed(queues):
    event = send_probe({"record": True})

    consumer = consume_once("probe")

    assert ProbeReceipt.objects.filter(event_id=event["id"]).exists()
    assert queue_length("probe") == 0
    assert consumer.totals.counts["processed"] == 1


@pytest.mark.parametrize("category", list(DeadLetterCategory))
def test_a_categorised_handler_error_dead_letters_with_that_category_and_the_event_context(
    queues, probe_handler, category
):
    def fail(message, outbox):
        raise HandlerError(category, "cannot do it")

    probe_handler(fail)
    event = send_probe()

    consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["category"] == category
    assert dead_letter["transactionId"] == event["transactionId"]
    assert dead_letter["eventCode"] == "PROBE_EVENT"
    assert dead_letter["error"] == "cannot do it"
    assert json.loads(dead_letter["originalMessage"])["event"] == event
    assert queue_length("probe") == 0


def test_a_handler_error_inside_a_decision_commits_what_it_wrote_with_the_dead_letter(queues, probe_handler):
    """Part B writes the retry event or the refund error, then dead-letters: both are kept, or neither."""

    def record_then_give_up(message, outbox):
        with outbox.decision():
            ProbeReceipt.objects.create(event_id=message.raw_event["id"], queue="probe")
            outbox.send("refund", message.raw_event, message.tracing_info)
            raise HandlerError(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, "no attempt left")

    probe_handler(record_then_give_up)
    event = send_probe()

    consumer = consume_once("probe")

    assert ProbeReceipt.objects.filter(event_id=event["id"]).exists()
    assert queue_length("refund") == 1
    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "RETRY_EVENT_NO_ATTEMPTS_LEFT"
    assert consumer.totals.counts["dead_lettered"] == 1


def test_an_unexpected_failure_inside_a_decision_rolls_all_of_it_back(queues, probe_handler):
    def half_done(message, outbox):
        with outbox.decision():
            ProbeReceipt.objects.create(event_id=message.raw_event["id"], queue="probe")
            outbox.send("refund", message.raw_event, message.tracing_info)
            raise KeyError("a bug")

    probe_handler(half_done)
    event = send_probe()

    consume_once("probe")

    assert not ProbeReceipt.objects.filter(event_id=event["id"]).exists()
    assert queue_length("refund") == 0
    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "PROCESSING_ERROR"
    assert "KeyError" in dead_letter["error"]


def test_an_unexpected_handler_exception_is_a_processing_error(queues, probe_handler):
    probe_handler(lambda message, outbox: 1 / 0)
    send_probe()

    consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "PROCESSING_ERROR"
    assert "ZeroDivisionError" in dead_letter["error"]


def test_an_infrastructure_error_leaves_the_message_for_redelivery(queues, probe_handler):
    def database_down(message, outbox):
        with outbox.decision():
            outbox.send("refund", message.raw_event, message.tracing_info)
            raise OperationalError("connection refused")

    probe_handler(database_down)
    send_probe()

    consumer = consume_once("probe", visibility_timeout=1)

    assert consumer.totals.counts["retried"] == 1
    assert dead_letters() == []
    assert queue_length("probe") == 1
    assert queue_length("refund") == 0


def test_a_handler_asking_to_retry_later_leaves_the_message_without_a_dead_letter(queues, probe_handler):
    def not_now(message, outbox):
        with outbox.decision():
            outbox.send("refund", message.raw_event, message.tracing_info)
            raise RetryLater("the transaction changed under us")

    probe_handler(not_now)
    send_probe()

    consumer = consume_once("probe", visibility_timeout=1)

    assert consumer.totals.counts["retried"] == 1
    assert consumer.totals.counts["dead_lettered"] == 0
    assert dead_letters() == []
    assert queue_length("probe") == 1
    assert queue_length("refund") == 0


def test_a_message_whose_lease_ran_out_before_a_thread_reached_it_is_left_alone(queues, probe_handler):
    handled = []
    probe_handler(lambda message, outbox: handled.append(message))
    send_probe()
    [received] = queue_client("probe").receive_messages(visibility_timeout=1)
    wait_until(lambda: queue_texts("probe"), "the lease to run out")

    outcome = process_message("probe", received)

    assert outcome == Outcome.RETRIED
    assert handled == []
    assert dead_letters() == []
    assert queue_length("probe") == 1


def test_the_outbox_is_sent_after_success_with_its_visibility_delay(queues, probe_handler):
    def forward(message, outbox):
        with outbox.decision():
            outbox.send("refund", message.raw_event, message.tracing_info)
            outbox.send("refund-retry", message.raw_event, message.tracing_info, visibility_seconds=300)

    probe_handler(forward)
    event = send_probe()

    consume_once("probe")

    [sent] = queue_texts("refund")
    assert json.loads(sent) == {"event": event, "tracingInfo": {"traceparent": TRACEPARENT}}
    assert queue_texts("refund-retry") == [], "the delayed message is not visible yet"
    assert queue_length("refund-retry") == 1
    assert queue_length("probe") == 0


def test_sent_messages_live_for_the_transient_ttl(queues, probe_handler):
    send_probe({"forwardTo": "refund"})

    consume_once("probe")

    [message] = queue_client("refund").peek_messages()
    lifetime = (message.expires_on - message.inserted_on).total_seconds()
    assert lifetime == settings.DISPATCHER.TRANSIENT_QUEUES_TTL_SECONDS


def test_an_explicit_dead_letter_is_written_while_the_handler_carries_on(queues, probe_handler):
    def dead_letter_and_forward(message, outbox):
        with outbox.decision():
            outbox.dead_letter_current_message(DeadLetterCategory.SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT, "too late")
            outbox.send("expiration", message.raw_event, message.tracing_info)

    probe_handler(dead_letter_and_forward)
    send_probe()

    consumer = consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT"
    assert queue_length("expiration") == 1
    assert consumer.totals.counts["processed"] == 1


def test_a_message_dequeued_more_than_the_limit_is_a_processing_error(queues, probe_handler):
    handled = []
    probe_handler(lambda message, outbox: handled.append(message))
    send_probe()
    client = queue_client("probe")
    for _ in range(2):
        [message] = client.receive_messages(visibility_timeout=30)
        client.update_message(message, visibility_timeout=0)

    with override_settings(DISPATCHER=settings.DISPATCHER.replace(DEQUEUE_LIMIT=2)):
        consume_once("probe")

    assert handled == []
    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "PROCESSING_ERROR"
    assert dead_letter["dequeueCount"] == 3
    assert queue_length("probe") == 0


def test_the_handler_runs_in_a_span_whose_parent_is_the_message_traceparent(queues, spans):
    send_probe()

    consume_once("probe")

    [span] = [s for s in spans.get_finished_spans() if s.name == "handle_probe"]
    assert format(span.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    assert format(span.parent.span_id, "016x") == TRACEPARENT.split("-")[2]
    assert span.parent.is_remote


def test_a_dead_letter_write_has_the_reference_span(queues, spans):
    event = send_probe({"deadLetter": "REFUND_MANUAL_CHECK_REQUIRED"})

    consume_once("probe")

    [span] = [s for s in spans.get_finished_spans() if s.name == "Event written into dead letter queue"]
    assert dict(span.attributes) == {
        "deadLetterEvent.serviceName": "pagopa-ecommerce-event-dispatcher-service",
        "deadLetterEvent.category": "REFUND_MANUAL_CHECK_REQUIRED",
        "deadLetterEvent.transactionId": event["transactionId"],
        "deadLetterEvent.transactionEventCode": "PROBE_EVENT",
    }


def test_sending_to_an_unknown_queue_is_a_processing_error(queues, probe_handler):
    def forward_nowhere(message, outbox):
        with outbox.decision():
            outbox.send("no-such-queue", message.raw_event, message.tracing_info)

    probe_handler(forward_nowhere)
    send_probe()

    consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "PROCESSING_ERROR"
    assert "no-such-queue" in dead_letter["error"]


@pytest.mark.parametrize("visibility_seconds", [604801, 604800])
def test_a_visibility_over_seven_days_or_the_ttl_is_a_processing_error(queues, probe_handler, visibility_seconds):
    def delay_too_long(message, outbox):
        with outbox.decision():
            outbox.send("refund", message.raw_event, message.tracing_info, visibility_seconds=visibility_seconds)

    probe_handler(delay_too_long)
    send_probe()

    consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "PROCESSING_ERROR"
    assert f"visibility of {visibility_seconds} s" in dead_letter["error"]
    assert queue_length("refund") == 0
    assert queue_length("probe") == 0


def test_a_damaged_dead_letter_wrapper_is_kept_as_read(queues):
    damaged = json.dumps({"id": "x", "category": "PROCESSING_ERROR", "originalMessageGzip": "not base64 gzip"})
    send_text("dead-letter", damaged)

    consume_once("dead-letter")

    [stored] = DeadLetterEvent.objects.all()
    assert stored.original_message == damaged
    assert stored.error.startswith("damaged dead-letter wrapper")
    assert hidden_dead_letters() == 1
