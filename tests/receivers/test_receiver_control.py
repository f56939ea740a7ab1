"""Receiver control end to end: running consumers obey START/STOP from the API and report their status."""

import json
import signal
import threading
import uuid

import pytest
from django.conf import settings
from django.test import override_settings

from receivers.control import ReceiverController, send_command
from receivers.models import ProbeReceipt, ReceiverCommand
from receivers.queues import queue_client
from tests.receivers.conftest import send_probe, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMMANDS_URL = "/event-dispatcher/event-receivers/commands"
STATUS_URL = "/event-dispatcher/event-receivers/status"


def statuses(redis_client, version=None) -> list[dict]:
    documents = [json.loads(redis_client.get(key) or "null") for key in redis_client.keys("receiver-status:*")]
    return [d for d in documents if d and (version is None or d["version"] == version)]


def probe_status(redis_client, version="PROD") -> str | None:
    """The probe receiver's status as its process last reported it."""
    for document in statuses(redis_client, version):
        for receiver in document["receiverStatuses"]:
            if receiver["name"] == "storageQueueProbeMessageSource":
                return receiver["status"]
    return None


def queried_at(redis_client, version="PROD") -> str | None:
    return next((document["queriedAt"] for document in statuses(redis_client, version)), None)


def command(client, api_headers, body) -> None:
    response = client.post(COMMANDS_URL, json.dumps(body), content_type="application/json", headers=api_headers)
    assert response.status_code == 202


def test_a_running_consumer_reports_each_receiver_with_a_ttl(start_consumer, redis_client, client, api_headers):
    start_consumer("probe", "dead-letter")
    wait_until(lambda: probe_status(redis_client) == "UP", "the consumer to report")

    [document] = statuses(redis_client)
    assert document["consumerInstanceId"].startswith("event-dispatcher-")
    assert document["version"] == "PROD"
    assert "queriedAt" in document
    assert document["receiverStatuses"] == [
        {"name": "storageQueueProbeMessageSource", "status": "UP"},
        {"name": "storageQueueDeadLetterMessageSource", "status": "UP"},
    ]
    assert 0 < redis_client.ttl(f"receiver-status:{document['consumerInstanceId']}") <= 60
    response = client.get(STATUS_URL, headers=api_headers)
    assert response.json()["status"][0]["instanceId"] == document["consumerInstanceId"]


def test_stop_takes_no_new_messages_and_start_resumes(start_consumer, redis_client, client, api_headers):
    consumer = start_consumer("probe")
    wait_until(lambda: probe_status(redis_client) == "UP", "the consumer to report UP")

    command(client, api_headers, {"command": "STOP"})
    wait_until(lambda: probe_status(redis_client) == "DOWN", "the consumer to report DOWN")
    event = send_probe({"record": True})
    reported = queried_at(redis_client)
    wait_until(lambda: queried_at(redis_client) != reported, "one more status report after the message was sent")
    [message] = queue_client("probe").peek_messages()
    assert message.dequeue_count == 0, "a stopped receiver received nothing"
    assert ProbeReceipt.objects.count() == 0

    command(client, api_headers, {"command": "START"})
    wait_until(lambda: ProbeReceipt.objects.filter(event_id=event["id"]).exists(), "the message after START")
    assert probe_status(redis_client) == "UP"
    consumer.signal(signal.SIGTERM)
    assert consumer.wait() == 0


def test_a_command_for_one_version_leaves_the_other_running(start_consumer, redis_client, client, api_headers):
    start_consumer("probe", DEPLOYMENT_VERSION="STAGING")
    start_consumer("probe", DEPLOYMENT_VERSION="PROD")
    wait_until(
        lambda: probe_status(redis_client, "STAGING") == "UP" and probe_status(redis_client, "PROD") == "UP",
        "both deployments to report UP",
    )

    command(client, api_headers, {"command": "STOP", "deploymentVersion": "STAGING"})

    wait_until(lambda: probe_status(redis_client, "STAGING") == "DOWN", "STAGING to report DOWN")
    event = send_probe({"record": True})
    wait_until(lambda: ProbeReceipt.objects.filter(event_id=event["id"]).exists(), "PROD to keep consuming")
    assert probe_status(redis_client, "PROD") == "UP"
    response = client.get(STATUS_URL, {"version": "STAGING"}, headers=api_headers)
    assert [r["status"] for r in response.json()["status"][0]["receiverStatuses"]] == ["DOWN"]


def test_a_new_process_obeys_the_last_command_sent_before_it_started(start_consumer, redis_client, client, api_headers):
    command(client, api_headers, {"command": "STOP", "deploymentVersion": "PROD"})
    event = send_probe({"record": True})

    start_consumer("probe")

    wait_until(lambda: probe_status(redis_client) == "DOWN", "the new process to report DOWN")
    assert not ProbeReceipt.objects.filter(event_id=event["id"]).exists()
    command(client, api_headers, {"command": "START", "deploymentVersion": "PROD"})
    wait_until(lambda: ProbeReceipt.objects.filter(event_id=event["id"]).exists(), "the message after START")


def test_the_status_of_a_dead_process_expires(start_consumer, redis_client, client, api_headers):
    consumer = start_consumer("probe", RECEIVER_STATUS_TTL_SECONDS="2")
    wait_until(lambda: probe_status(redis_client) == "UP", "the consumer to report")

    consumer.signal(signal.SIGKILL)
    consumer.wait()

    wait_until(lambda: not statuses(redis_client), "the status key to expire")
    assert client.get(STATUS_URL, headers=api_headers).status_code == 404


def test_a_process_that_exits_cleanly_reports_its_receivers_down(start_consumer, redis_client):
    consumer = start_consumer("probe")
    wait_until(lambda: probe_status(redis_client) == "UP", "the consumer to report")

    consumer.signal(signal.SIGTERM)

    assert consumer.wait() == 0
    assert probe_status(redis_client) == "DOWN"


def test_the_controller_survives_an_error_that_is_not_a_redis_error_and_obeys_the_next_command(redis_client):
    applied = []

    def apply(running: bool) -> None:
        applied.append(running)
        if len(applied) == 1:
            raise RuntimeError("applying the command failed")

    stopped = threading.Event()
    controller = ReceiverController(apply=apply, statuses=list, stopped=stopped)
    controller.thread.start()
    try:
        send_command("STOP", None, "test", ReceiverCommand.Origin.CLI)
        wait_until(lambda: applied == [False], "the first command to fail")
        send_command("START", None, "test", ReceiverCommand.Origin.CLI)

        wait_until(lambda: applied == [False, True], "the next command to be obeyed")
        assert controller.thread.is_alive()
    finally:
        stopped.set()
        controller.thread.join(timeout=10)


def replayed(version: str = "PROD") -> list[bool]:
    """What a new process of this version applies at start, before its receivers run."""
    applied = []
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(DEPLOYMENT_VERSION=version)):
        ReceiverController(apply=applied.append, statuses=list, stopped=threading.Event()).replay()
    return applied


def test_with_the_stream_lost_a_new_process_obeys_the_latest_recorded_command_for_its_version(redis_client):
    send_command("STOP", "PROD", "operator", ReceiverCommand.Origin.API)
    send_command("START", "STAGING", "operator", ReceiverCommand.Origin.API)
    redis_client.delete(settings.DISPATCHER.REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY)  # Redis restarted

    assert replayed("PROD") == [False]
    assert replayed("STAGING") == [True]


def test_the_stream_wins_over_the_recorded_commands_when_it_has_one(redis_client):
    send_command("STOP", None, "operator", ReceiverCommand.Origin.API)
    ReceiverCommand.objects.create(id=uuid.uuid4(), command="START", sent_by="x", origin=ReceiverCommand.Origin.CLI)

    assert replayed("PROD") == [False]


def test_with_no_stream_and_no_recorded_command_receivers_start_running(redis_client):
    assert replayed("PROD") == []
