"""`manage.py receivers_gate`, the deploy gate, against real `consume_queue` processes, Redis and Azurite."""

from __future__ import annotations

import json
import re
import signal
import subprocess

import pytest

from receivers.models import ProbeReceipt, ReceiverCommand
from receivers.queues import queue_client
from tests.receivers.conftest import FAST_CONSUMER_ENV, send_probe, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def documents(redis_client) -> dict[str, dict]:
    """Every status document in Redis, by instance id."""
    found = {}
    for key in redis_client.keys("receiver-status:*"):
        text = redis_client.get(key)
        if text:
            document = json.loads(text)
            found[document["consumerInstanceId"]] = document
    return found


def instance_id(consumer) -> str:
    consumer.wait_for_output("consuming probe as ")
    return re.search(r"consuming probe as (\S+)", consumer.output).group(1)


def receivers_of(redis_client, instance: str) -> list[str]:
    document = documents(redis_client).get(instance)
    return [receiver["status"] for receiver in document["receiverStatuses"]] if document else []


def reports(redis_client, instance: str, status: str) -> bool:
    return receivers_of(redis_client, instance) == [status]


@pytest.fixture
def gate(subprocess_env, manage_py):
    """Run `manage.py receivers_gate ARGS` as a deploy Job would; returns the finished process."""

    def run(*arguments: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*manage_py, "receivers_gate", *arguments],
            env={**subprocess_env, **FAST_CONSUMER_ENV, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def command_id(result: subprocess.CompletedProcess) -> str:
    return re.search(r"\(command ([0-9a-f-]{36})\)", result.stdout).group(1)


def test_stop_waits_for_both_consumers_a_restart_stays_down_and_start_brings_them_up(
    start_consumer, gate, redis_client
):
    first, second = start_consumer("probe"), start_consumer("probe")
    ids = [instance_id(first), instance_id(second)]
    wait_until(lambda: all(reports(redis_client, i, "UP") for i in ids), "both consumers to report UP")

    stopped = gate("stop", "--version", "PROD", "--wait", "--timeout", "30")

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "STOP obeyed by every receiver of PROD" in stopped.stdout
    stop_id = command_id(stopped)
    for i in ids:  # every instance had applied this very command when the gate said so
        assert documents(redis_client)[i]["lastCommandId"] == stop_id
        assert reports(redis_client, i, "DOWN")
    assert ReceiverCommand.objects.get(id=stop_id).sent_by.startswith("deploy gate")

    # A pod restarted while stopped (a rollout) comes up stopped and takes nothing.
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    event = send_probe({"record": True})
    restarted = start_consumer("probe")
    new_id = instance_id(restarted)
    wait_until(lambda: reports(redis_client, new_id, "DOWN"), "the restarted consumer to report DOWN")
    reported = documents(redis_client)[new_id]["queriedAt"]
    wait_until(lambda: documents(redis_client)[new_id]["queriedAt"] != reported, "one more report")
    [message] = queue_client("probe").peek_messages()
    assert message.dequeue_count == 0, "a consumer started while stopped received nothing"

    started = gate("start", "--version", "PROD", "--wait", "--timeout", "30", "--min-instances", "2")

    assert started.returncode == 0, started.stdout + started.stderr
    assert reports(redis_client, ids[0], "UP")
    assert reports(redis_client, new_id, "UP")
    wait_until(lambda: ProbeReceipt.objects.filter(event_id=event["id"]).exists(), "the message after START")


def test_the_gate_exits_non_zero_naming_what_it_waited_for_on_timeout(start_consumer, gate, redis_client):
    ids = [instance_id(start_consumer("probe")), instance_id(start_consumer("probe"))]
    wait_until(lambda: all(reports(redis_client, i, "UP") for i in ids), "both consumers to report UP")

    result = gate("start", "--version", "PROD", "--wait", "--timeout", "3", "--min-instances", "3")

    assert result.returncode == 1
    assert "START for PROD not obeyed within 3 s" in result.stderr
    assert "2 live instance(s) report, at least 3 expected" in result.stderr


def test_a_command_for_the_other_version_is_not_waited_for(start_consumer, gate, redis_client):
    prod = instance_id(start_consumer("probe", DEPLOYMENT_VERSION="PROD"))
    staging = instance_id(start_consumer("probe", DEPLOYMENT_VERSION="STAGING"))
    wait_until(lambda: reports(redis_client, prod, "UP") and reports(redis_client, staging, "UP"), "both UP")

    result = gate("stop", "--version", "STAGING", "--wait", "--timeout", "30")

    assert result.returncode == 0, result.stdout + result.stderr
    assert reports(redis_client, staging, "DOWN")
    assert reports(redis_client, prod, "UP")


def test_stop_is_not_fooled_by_the_key_of_a_dead_consumer_last_seen_up(start_consumer, gate, redis_client):
    # Keys live 8 s here (60 s in production): a SIGKILLed pod's key still says UP until then.
    ttl = {"RECEIVER_STATUS_TTL_SECONDS": "8"}
    alive, killed = start_consumer("probe", **ttl), start_consumer("probe", **ttl)
    alive_id, killed_id = instance_id(alive), instance_id(killed)
    wait_until(lambda: reports(redis_client, alive_id, "UP") and reports(redis_client, killed_id, "UP"), "UP")
    killed.signal(signal.SIGKILL)
    killed.wait()

    early = gate("stop", "--version", "PROD", "--wait", "--timeout", "2", **ttl)

    assert early.returncode == 1
    assert f"{killed_id} is still running" in early.stderr or f"{killed_id} is last seen" in early.stderr
    wait_until(lambda: reports(redis_client, alive_id, "DOWN"), "the live consumer to obey")
    later = gate("stop", "--version", "PROD", "--wait", "--timeout", "30", **ttl)
    assert later.returncode == 0, later.stdout + later.stderr
    assert killed_id not in documents(redis_client), "done only once the dead consumer's key had expired"


def test_start_is_not_fooled_by_the_fresh_key_of_a_dead_consumer(start_consumer, gate, redis_client):
    alive, killed = start_consumer("probe"), start_consumer("probe")
    alive_id, killed_id = instance_id(alive), instance_id(killed)
    wait_until(lambda: reports(redis_client, alive_id, "UP") and reports(redis_client, killed_id, "UP"), "UP")
    killed.signal(signal.SIGKILL)
    killed.wait()

    # The dead consumer's key still says UP, but it never applied this START: two are not up. (The gate
    # takes a key for stale after 2 report intervals + 5 s: 25 s here, so the dead key still looks fresh.)
    result = gate(
        "start",
        "--version",
        "PROD",
        "--wait",
        "--timeout",
        "3",
        "--min-instances",
        "2",
        RECEIVER_STATUS_REFRESH_SECONDS="10",
    )

    assert result.returncode == 1
    assert reports(redis_client, killed_id, "UP"), "the dead consumer's key was there all along"
    assert f"{killed_id} has not applied the START yet" in result.stderr


def test_stop_waits_for_messages_in_flight(start_consumer, gate, redis_client):
    consumer = start_consumer("probe")
    consumer_id = instance_id(consumer)
    wait_until(lambda: reports(redis_client, consumer_id, "UP"), "the consumer to report UP")
    event = send_probe({"record": True, "sleepSeconds": 8})
    consumer.wait_for_output(f"probe {event['id']} received")

    result = gate("stop", "--version", "PROD", "--wait", "--timeout", "30")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "message(s) in flight" in result.stdout
    assert ProbeReceipt.objects.filter(event_id=event["id"]).exists(), "the gate said down only once it was idle"


def test_a_consumer_draining_after_sigterm_ignores_start_and_does_not_count_as_up(start_consumer, gate, redis_client):
    old = start_consumer("probe")
    old_id = instance_id(old)
    wait_until(lambda: reports(redis_client, old_id, "UP"), "the old consumer to report UP")
    assert gate("stop", "--version", "PROD", "--wait", "--timeout", "30").returncode == 0
    # In flight while stopped: sent before the STOP would do too; SIGTERM it mid-message, as a rollout does.
    assert gate("start", "--version", "PROD").returncode == 0
    event = send_probe({"record": True, "sleepSeconds": 25})
    old.wait_for_output(f"probe {event['id']} received")
    assert gate("stop", "--version", "PROD").returncode == 0
    old.signal(signal.SIGTERM)
    wait_until(lambda: documents(redis_client)[old_id].get("shuttingDown"), "the old consumer to say it is draining")

    alone = gate("start", "--version", "PROD", "--wait", "--timeout", "3")

    assert alone.returncode == 1
    assert "0 live instance(s) report, at least 1 expected" in alone.stderr
    old.wait_for_output("START ignored: this process is shutting down")
    assert reports(redis_client, old_id, "DOWN")
    new_id = instance_id(start_consumer("probe"))  # a new pod: it replays the START
    with_new = gate("start", "--version", "PROD", "--wait", "--timeout", "30")
    assert with_new.returncode == 0, with_new.stdout + with_new.stderr
    assert reports(redis_client, new_id, "UP")
    assert old.process.poll() is None, "the old consumer was still draining when the gate said START was obeyed"
    assert old.wait() == 0
    assert ProbeReceipt.objects.filter(event_id=event["id"]).exists()
