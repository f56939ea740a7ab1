"""`manage.py consume_queue` as operators run it: options, signals, crashes, and losing nothing."""

import re
import signal
import subprocess
from collections import Counter

import pytest
from azure.storage.queue import QueueClient
from django.conf import settings
from django.test import override_settings

from dispatcher_site import local_servers
from dispatcher_site.local_servers import free_port
from receivers.handlers import serialize_queue_event
from receivers.models import ProbeReceipt
from receivers.probe import handle_probe, parse_probe, probe_event
from receivers.runtime import Consumer, ConsumerOptions
from tests.receivers.conftest import TRACEPARENT, WAIT_SECONDS, consume_once, queue_length, send_probe, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def receipts() -> set[str]:
    return set(ProbeReceipt.objects.values_list("event_id", flat=True))


def test_once_handles_what_is_visible_then_exits_with_a_summary(start_consumer):
    sent = {send_probe({"record": True})["id"] for _ in range(40)}

    consumer = start_consumer("probe", "--once", "--batch-size", "16")

    assert consumer.wait() == 0
    assert receipts() == sent
    assert queue_length("probe") == 0
    assert "finished: processed=40 retried=0 dead-lettered=0" in consumer.output
    per_receive = float(re.search(r"messages-per-receive=([0-9.]+)", consumer.output).group(1))
    assert 5 <= per_receive <= 16, "receives fill the free room of the budget, up to the batch size"


def test_max_messages_stops_after_that_many(start_consumer):
    for _ in range(10):
        send_probe({"record": True})

    consumer = start_consumer("probe", "--max-messages", "4", "--batch-size", "3")

    assert consumer.wait() == 0
    assert len(receipts()) == 4
    assert queue_length("probe") == 6


def test_all_serves_every_queue_with_a_handler_and_the_dead_letters(start_consumer):
    consumer = start_consumer("--all", "--once")

    assert consumer.wait() == 0
    assert "consuming " in consumer.output
    consuming = consumer.output.split("consuming ", 1)[1].split(" as ", 1)[0].split(", ")
    assert "probe" in consuming
    assert "dead-letter" in consuming


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "name the queues to consume, or pass --all"),
        (("no-such-queue",), "unknown queues no-such-queue"),
        (("probe", "--batch-size", "33"), "--batch-size must be between 1 and 32"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(subprocess_env, manage_py, arguments, message):
    result = subprocess.run(
        [*manage_py, "consume_queue", *arguments], env=subprocess_env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert message in result.stderr


def test_sigterm_finishes_in_flight_messages_and_exits_zero(start_consumer):
    sent = {send_probe({"record": True, "sleepSeconds": 1})["id"] for _ in range(6)}
    consumer = start_consumer("probe", "--worker-threads", "8")
    consumer.wait_for_output("probe ", count=6)

    consumer.signal(signal.SIGTERM)

    assert consumer.wait() == 0
    assert receipts() == sent
    assert queue_length("probe") == 0


@pytest.mark.parametrize(
    "moment",
    [r"\|\s+django\.", r"\|\s+receivers\.runtime$"],
    ids=["while-django-loads", "when-the-command-is-loaded"],
)
def test_a_sigterm_during_start_up_exits_zero(start_consumer, moment):
    """Python reports each import as it finishes (-X importtime), so the signal lands mid start-up: while
    Django loads, or when the command's own module has loaded the runtime."""
    consumer = start_consumer("probe", PYTHONPROFILEIMPORTTIME="1")
    wait_until(lambda: re.search(moment, consumer.output, re.MULTILINE), f"an import matching {moment}")

    consumer.signal(signal.SIGTERM)

    assert consumer.wait() == 0, consumer.output[-2000:]
    if "django" in moment:
        assert "consuming probe" not in consumer.output


def test_once_exits_non_zero_when_its_queue_cannot_be_read_at_all(start_consumer):
    unreachable = local_servers.azurite_connection_string(free_port())

    consumer = start_consumer(
        "probe", "--once", QUEUE_TRANSIENT_CONNECTION_STRING=unreachable, QUEUE_DEADLETTER_CONNECTION_STRING=unreachable
    )

    assert consumer.wait() != 0
    assert "could not read probe" in consumer.output


def test_a_second_signal_exits_at_once_leaving_unfinished_messages_on_the_queue(start_consumer):
    for _ in range(3):
        send_probe({"record": True, "sleepSeconds": 30})
    consumer = start_consumer("probe", "--visibility-timeout", "60")
    consumer.wait_for_output("received", count=3)

    consumer.signal(signal.SIGTERM)
    consumer.wait_for_output("finishing in-flight messages")
    consumer.signal(signal.SIGINT)

    assert consumer.wait() == 1
    assert receipts() == set()
    assert queue_length("probe") == 3


def test_a_consumer_killed_mid_batch_loses_nothing_and_handles_each_message_once(start_consumer):
    sent = {send_probe({"record": True, "sleepSeconds": 0.3})["id"] for _ in range(40)}
    first = start_consumer("probe", "--worker-threads", "4", "--visibility-timeout", "2")
    wait_until(lambda: len(receipts()) >= 4, "the first consumer to handle a few messages")

    first.process.send_signal(signal.SIGKILL)
    first.wait()
    assert len(receipts()) < len(sent), "the kill came in the middle of the work"
    second = start_consumer("probe", "--worker-threads", "8", "--visibility-timeout", "2")
    wait_until(lambda: receipts() == sent and queue_length("probe") == 0, "every message to be handled")
    second.signal(signal.SIGTERM)

    assert second.wait() == 0
    assert ProbeReceipt.objects.count() == len(sent)
    assert "(dequeue count 2)" in second.output, "the interrupted batch came back"
    assert "dead-lettered=0" in second.output


def test_a_consumer_keeps_working_while_redis_is_unreachable(start_consumer):
    sent = {send_probe({"record": True})["id"]}
    consumer = start_consumer("probe", REDIS_PORT=str(free_port()))
    wait_until(lambda: receipts() == sent, "the message to be handled without Redis")
    consumer.wait_for_output("receiver control cannot reach Redis")

    consumer.signal(signal.SIGTERM)

    assert consumer.wait() == 0


def test_a_consumer_outlives_an_unreachable_queue_service_and_reconnects(start_consumer):
    port = free_port()
    azurite = local_servers.start_azurite(port)
    connection_string = local_servers.azurite_connection_string(port)
    queue = QueueClient.from_connection_string(connection_string, "probe-outage-queue")
    try:
        queue.create_queue()
        environment = {
            "QUEUE_TRANSIENT_CONNECTION_STRING": connection_string,
            "QUEUE_DEADLETTER_CONNECTION_STRING": connection_string,
            "DIAGNOSTIC_PROBE_QUEUE_NAME": "probe-outage-queue",
        }
        consumer = start_consumer("probe", **environment)
        consumer.wait_for_output("consuming probe")
        local_servers.stop(azurite)
        consumer.wait_for_output("cannot receive from probe")

        azurite = local_servers.start_azurite(port)
        queue.create_queue()
        queue.send_message(serialize_queue_event(probe_event({"record": True}), {"traceparent": TRACEPARENT}))
        wait_until(lambda: len(receipts()) == 1, "the message sent after the queue service came back")
        consumer.signal(signal.SIGTERM)
        assert consumer.wait() == 0
    finally:
        local_servers.stop(azurite)


def test_few_threads_and_slow_handlers_handle_each_message_once_within_its_lease(queues, probe_handler):
    calls = []

    def counted(message, outbox):
        calls.append((message.raw_event["id"], message.dequeue_count))
        handle_probe(message, outbox)

    probe_handler(counted, parse=parse_probe)
    sent = {send_probe({"record": True, "sleepSeconds": 0.5})["id"] for _ in range(12)}

    # Two threads for two queues: twelve messages of a whole batch would wait 3 s behind a 2 s lease.
    consume_once("probe", "dead-letter", worker_threads=2, visibility_timeout=2, batch_size=32)

    assert receipts() == sent
    assert Counter(event_id for event_id, _ in calls) == dict.fromkeys(sent, 1)
    assert {count for _, count in calls} == {1}, "no message was dequeued twice"
    assert queue_length("probe") == 0


def test_a_crashed_receiver_reports_unknown_then_restarts_and_handles_messages(queues):
    options = ConsumerOptions(poll_interval=0.05, max_poll_interval=0.1, visibility_timeout=5)
    consumer = Consumer(["probe"], options)
    [receiver] = consumer.receivers
    broken = settings.DISPATCHER.replace(QUEUE_TRANSIENT_CONNECTION_STRING="not a connection string")
    try:
        with override_settings(DISPATCHER=broken):
            consumer.start()
            wait_until(lambda: receiver.status() == "UNKNOWN", "the receiver loop to crash")
        event = send_probe({"record": True})

        wait_until(lambda: event["id"] in receipts(), "the restarted receiver to handle a message")
        assert receiver.status() == "UP"
        assert receiver.thread.is_alive()
    finally:
        consumer.shutdown.set()
        consumer.join(timeout=WAIT_SECONDS)
        consumer.close()
