"""Dead letters: the wrapper on the queue, its size limit, its TTL, its metric, and storing it once."""

import base64
import json
import os
import socket

import pytest
from django.conf import settings
from django.test import override_settings

from receivers.dead_letters import build_wrapper, dead_letter_fields
from receivers.handlers import DeadLetterCategory
from receivers.models import DeadLetterEvent
from receivers.queues import MAX_MESSAGE_BYTES, queue_client, send_text
from tests.receivers.conftest import consume_once, hidden_dead_letters, queue_texts, send_probe

pytestmark = pytest.mark.django_db(transaction=True)


def test_dead_letters_never_expire_by_default(queues):
    send_text("probe", "not an event")

    consume_once("probe")

    [message] = queue_client("dead-letter").peek_messages()
    assert message.expires_on.year >= 9999


def test_each_dead_letter_is_counted_by_category_in_statsd(queues):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        statsd = {"STATSD_ENABLED": True, "STATSD_HOST": "127.0.0.1", "STATSD_PORT": listener.getsockname()[1]}
        send_probe({"deadLetter": "RETRY_EVENT_NO_ATTEMPTS_LEFT"})
        with override_settings(DISPATCHER=settings.DISPATCHER.replace(**statsd)):
            consume_once("probe")
        packets = []
        while not any(b"dead_lettered" in p for p in packets):
            packets.append(listener.recv(4096))
    namespace = f"{settings.DISPATCHER.ENVIRONMENT}.{settings.DISPATCHER.STATSD_NAMESPACE}"
    received = b"\n".join(packets).decode()
    assert f"{namespace}.dead_letter.RETRY_EVENT_NO_ATTEMPTS_LEFT:1|c" in received
    assert f"{namespace}.queue.probe.wait:" in received
    assert f"{namespace}.queue.probe.handler:" in received
    assert f"{namespace}.queue.probe.dead_lettered:1|c" in received


def test_consuming_the_dead_letter_queue_stores_each_dead_letter_with_its_context(queues):
    event = send_probe({"deadLetter": "REFUND_MANUAL_CHECK_REQUIRED"})
    consume_once("probe")

    consume_once("dead-letter")

    [stored] = DeadLetterEvent.objects.all()
    assert stored.category == "REFUND_MANUAL_CHECK_REQUIRED"
    assert stored.source_queue == "probe"
    assert stored.transaction_id == event["transactionId"]
    assert stored.event_code == "PROBE_EVENT"
    assert stored.state == DeadLetterEvent.State.NEW
    assert json.loads(stored.original_message)["event"] == event
    assert hidden_dead_letters() == 1


def test_a_dead_letter_read_twice_is_stored_once(queues):
    wrapper = build_wrapper(DeadLetterCategory.PROCESSING_ERROR, "original", "refund", "boom", 1)
    send_text("dead-letter", wrapper)
    send_text("dead-letter", wrapper)

    consume_once("dead-letter")
    consume_once("dead-letter")

    assert DeadLetterEvent.objects.count() == 1
    assert hidden_dead_letters() == 1


def test_a_dead_letter_without_our_wrapper_is_kept_as_read(queues):
    send_text("dead-letter", '{"event": {"transactionId": "abc"}}')

    consume_once("dead-letter")

    [stored] = DeadLetterEvent.objects.all()
    assert stored.category == ""
    assert stored.transaction_id == "abc"
    assert stored.original_message == '{"event": {"transactionId": "abc"}}'


def test_an_original_too_large_for_the_wrapper_travels_compressed_and_comes_back_whole():
    original = json.dumps({"padding": "a" * MAX_MESSAGE_BYTES})[:MAX_MESSAGE_BYTES]

    wrapper = build_wrapper(DeadLetterCategory.EVENT_PARSING_ERROR, original, "probe", "too big", 1)

    assert len(wrapper.encode()) <= MAX_MESSAGE_BYTES
    assert dead_letter_fields(wrapper, "message-id", None)["original_message"] == original


def test_an_incompressible_original_is_truncated_and_flagged():
    original = base64.b64encode(os.urandom(MAX_MESSAGE_BYTES))[:MAX_MESSAGE_BYTES].decode()

    wrapper = build_wrapper(DeadLetterCategory.EVENT_PARSING_ERROR, original, "probe", "too big", 1)

    assert len(wrapper.encode()) <= MAX_MESSAGE_BYTES
    fields = dead_letter_fields(wrapper, "message-id", None)
    assert fields["original_message_truncated"] is True
    assert original.startswith(fields["original_message"])


def test_the_readme_spelling_of_no_attempts_left_is_read_as_the_code_spelling(queues):
    wrapper = json.loads(build_wrapper(DeadLetterCategory.PROCESSING_ERROR, "x", "refund", "e", 1))
    send_text("dead-letter", json.dumps({**wrapper, "category": "RETRY_EVENT_NO_ATTEMPT_LEFT"}))

    consume_once("dead-letter")

    assert DeadLetterEvent.objects.get().category == "RETRY_EVENT_NO_ATTEMPTS_LEFT"
    assert queue_texts("dead-letter") == []


@pytest.mark.parametrize(("dequeue_count", "stored_count"), [(-1, 0), (10**12, 2_147_483_647)])
def test_a_wrapper_with_an_out_of_range_dequeue_count_is_stored_once_and_leaves_the_queue(
    queues, dequeue_count, stored_count
):
    wrapper = json.loads(build_wrapper(DeadLetterCategory.PROCESSING_ERROR, "x", "refund", "e", 1))
    send_text("dead-letter", json.dumps({**wrapper, "dequeueCount": dequeue_count}))

    consumer = consume_once("dead-letter")

    stored = DeadLetterEvent.objects.get()
    assert (stored.id, stored.dequeue_count) == (wrapper["id"], stored_count)
    assert consumer.totals.counts["retried"] == 0
    assert hidden_dead_letters() == 1


def test_a_wrapper_whose_dequeue_count_is_not_a_number_is_kept_as_read(queues):
    wrapper = json.loads(build_wrapper(DeadLetterCategory.PROCESSING_ERROR, "x", "refund", "e", 1))
    text = json.dumps({**wrapper, "dequeueCount": "many"})
    send_text("dead-letter", text)

    consume_once("dead-letter")

    stored = DeadLetterEvent.objects.get()
    assert stored.error.startswith("damaged dead-letter wrapper")
    assert stored.original_message == text


def test_a_dead_letter_dequeued_past_the_limit_is_stored_as_read_under_its_message_id(queues):
    text = build_wrapper(DeadLetterCategory.PROCESSING_ERROR, "x", "refund", "e", 1)
    send_text("dead-letter", text)
    client = queue_client("dead-letter")
    for _ in range(2):
        [message] = client.receive_messages(visibility_timeout=30)
        client.update_message(message, visibility_timeout=0)

    with override_settings(DISPATCHER=settings.DISPATCHER.replace(DEQUEUE_LIMIT=2)):
        consume_once("dead-letter")

    stored = DeadLetterEvent.objects.get()
    assert stored.id == message.id
    assert stored.error.startswith("unreadable wrapper: dequeued 3 times (limit 2)")
    assert stored.dead_letter_message == text
    assert hidden_dead_letters() == 1
