"""The consumer's heartbeat file and `manage.py consumer_alive`, the liveness probe of consumer pods."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from dispatcher_site.local_servers import free_port
from receivers.heartbeat import HeartbeatWriter, alive_problems, read_heartbeat
from receivers.runtime import Consumer, ConsumerOptions
from tests.receivers.conftest import WAIT_SECONDS, send_probe, wait_until

NOW = 1_000_000.0


def heartbeat(*statuses: str, written_at: float = NOW) -> dict:
    return {
        "receiverStatuses": [{"name": f"r{i}", "status": s} for i, s in enumerate(statuses)],
        "writtenAt": written_at,
    }


@pytest.mark.parametrize(
    ("document", "problems"),
    [
        (heartbeat("UP", "UP"), []),
        (heartbeat("DOWN"), []),
        (heartbeat("UP", written_at=NOW - 31), ["the last heartbeat is 31 s old (at most 30 s allowed)"]),
        (heartbeat("UP", "UNKNOWN"), ["receiver r1 is UNKNOWN (its loop crashed or is stuck)"]),
        (None, ["no heartbeat has been written"]),
        ({"receiverStatuses": []}, ["the heartbeat has no writtenAt time"]),
    ],
    ids=["running", "stopped is alive", "stale", "a receiver loop crashed or stuck", "no file", "not a heartbeat"],
)
def test_a_consumer_is_alive_with_a_fresh_heartbeat_and_no_unknown_receiver(document, problems):
    assert alive_problems(document, now=NOW, max_age=30) == problems


@pytest.fixture
def alive(subprocess_env, manage_py):
    def run(path, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*manage_py, "consumer_alive", "--file", str(path), *arguments],
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_consumer_is_alive_and_a_killed_one_is_not(start_consumer, alive, tmp_path):
    path = tmp_path / "heartbeat.json"
    consumer = start_consumer("probe", "dead-letter", CONSUMER_HEARTBEAT_FILE=str(path))
    wait_until(lambda: read_heartbeat(path), "the first heartbeat")

    result = alive(path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("alive: event-dispatcher-")
    assert [r["status"] for r in read_heartbeat(path)["receiverStatuses"]] == ["UP", "UP"]
    consumer.signal(signal.SIGKILL)
    consumer.wait()
    time.sleep(1.5)
    dead = alive(path, "--max-age", "1")
    assert dead.returncode == 1
    assert "old (at most 1 s allowed)" in dead.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_consumer_cut_off_from_redis_stays_alive(start_consumer, alive, tmp_path):
    path = tmp_path / "heartbeat.json"
    consumer = start_consumer("probe", CONSUMER_HEARTBEAT_FILE=str(path), REDIS_PORT=str(free_port()))
    consumer.wait_for_output("receiver control cannot reach Redis")
    # The heartbeat thread may start after that line is printed.
    wait_until(lambda: read_heartbeat(path), "the first heartbeat")
    first = read_heartbeat(path)["writtenAt"]
    wait_until(lambda: read_heartbeat(path)["writtenAt"] > first, "a heartbeat rewritten without Redis", timeout=15)

    assert alive(path, "--max-age", "10").returncode == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_draining_consumer_stays_alive_and_says_so(start_consumer, alive, tmp_path):
    path = tmp_path / "heartbeat.json"
    consumer = start_consumer("probe", CONSUMER_HEARTBEAT_FILE=str(path))
    wait_until(lambda: read_heartbeat(path), "the first heartbeat")
    event = send_probe({"sleepSeconds": 8})
    consumer.wait_for_output(f"probe {event['id']} received")
    consumer.signal(signal.SIGTERM)

    wait_until(lambda: read_heartbeat(path).get("shuttingDown"), "a heartbeat saying the consumer is draining")
    document = read_heartbeat(path)
    assert document["inFlight"] == 1
    assert [r["status"] for r in document["receiverStatuses"]] == ["DOWN"]
    assert alive(path).returncode == 0
    assert consumer.wait() == 0


def test_a_receiver_loop_that_crashed_fails_the_check(queues_created, tmp_path):
    path = tmp_path / "heartbeat.json"
    consumer = Consumer(["probe"], ConsumerOptions(poll_interval=0.05, max_poll_interval=0.1, visibility_timeout=5))
    [receiver] = consumer.receivers
    finished = threading.Event()
    writer = HeartbeatWriter(
        path, lambda: {"receiverStatuses": [{"name": receiver.name, "status": receiver.status()}]}, finished, 0.1
    )
    broken = settings.DISPATCHER.replace(QUEUE_TRANSIENT_CONNECTION_STRING="not a connection string")
    try:
        with override_settings(DISPATCHER=broken):
            consumer.start()
            writer.thread.start()
            wait_until(lambda: "UNKNOWN" in json.dumps(read_heartbeat(path)), "the crash to reach the heartbeat")

            with pytest.raises(CommandError, match="receiver storageQueueProbeMessageSource is UNKNOWN"):
                call_command("consumer_alive", "--file", str(path))
    finally:
        finished.set()
        consumer.shutdown.set()
        consumer.join(timeout=WAIT_SECONDS)
        consumer.close()


def test_without_a_heartbeat_file_the_check_says_what_to_configure():
    with pytest.raises(CommandError, match="pass --file or set CONSUMER_HEARTBEAT_FILE"):
        call_command("consumer_alive")


def test_a_missing_heartbeat_file_fails_the_check(tmp_path):
    with pytest.raises(CommandError, match="no heartbeat has been written"):
        call_command("consumer_alive", "--file", str(tmp_path / "none.json"))
