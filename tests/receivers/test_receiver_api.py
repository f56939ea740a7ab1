"""The receiver control API: POST commands and GET status, as the reference service answers them."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from dispatcher_site.local_servers import free_port
from receivers.control import COMMAND_CLASS, command_targets
from receivers.models import ReceiverCommand

pytestmark = pytest.mark.django_db

COMMANDS_URL = "/event-dispatcher/event-receivers/commands"
STATUS_URL = "/event-dispatcher/event-receivers/status"
STREAM = "event-dispatcher-commands"


def post_command(client, headers, body):
    return client.post(COMMANDS_URL, data=json.dumps(body), content_type="application/json", headers=headers)


def write_status(redis_client, instance, version, status="UP"):
    document = {
        "consumerInstanceId": instance,
        "queriedAt": "2026-11-27T10:00:00+00:00",
        "version": version,
        "receiverStatuses": [{"name": "storageQueueClosuresMessageSource", "status": status}],
    }
    redis_client.set(f"receiver-status:{instance}", json.dumps(document), ex=60)


@pytest.mark.parametrize("version", ["PROD", "STAGING"])
def test_a_command_replaces_the_stream_with_one_record_and_is_recorded(client, api_headers, redis_client, version):
    post_command(client, api_headers, {"command": "START"})

    response = post_command(client, api_headers, {"command": "STOP", "deploymentVersion": version})

    assert response.status_code == 202
    assert response.content == b""
    [(_, fields)] = redis_client.xrange(STREAM)
    assert fields["_class"] == COMMAND_CLASS
    assert fields["type"] == "RECEIVER_COMMAND"
    assert fields["receiverCommand"] == "STOP"
    assert fields["version"] == version
    latest = ReceiverCommand.objects.get(id=fields["commandId"])
    assert (latest.command, latest.deployment_version, latest.origin) == ("STOP", version, "api")


def test_a_command_without_version_targets_every_version(client, api_headers, redis_client):
    post_command(client, api_headers, {"command": "START"})

    [(_, fields)] = redis_client.xrange(STREAM)
    assert "version" not in fields
    assert command_targets(fields, "PROD") == command_targets(fields, "STAGING") == "START"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"command": "PAUSE"},
        {"command": "start"},
        {"command": "STOP", "deploymentVersion": "BLUE"},
        {"command": "STOP", "extra": 1},
        ["STOP"],
        "not json",
    ],
)
def test_an_invalid_command_is_a_400_problem(client, api_headers, redis_client, body):
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(COMMANDS_URL, data=data, content_type="application/json", headers=api_headers)

    assert response.status_code == 400
    assert response.json() == {"title": "Bad request", "status": 400, "detail": "Input request is invalid."}
    assert redis_client.exists(STREAM) == 0
    assert ReceiverCommand.objects.count() == 0


def test_a_command_when_redis_is_down_is_a_500_problem_and_not_recorded(client, api_headers):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = post_command(client, api_headers, {"command": "STOP"})

    assert response.status_code == 500
    assert response.json()["detail"] == "An unexpected error occurred processing the request"
    assert ReceiverCommand.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_command_redis_took_but_the_database_cannot_record_is_a_500_problem(client, api_headers, redis_client):
    table = ReceiverCommand._meta.db_table
    with connection.schema_editor() as editor:
        editor.alter_db_table(ReceiverCommand, table, "receivers_receivercommand_away")
    try:
        response = post_command(client, api_headers, {"command": "STOP"})
    finally:
        with connection.schema_editor() as editor:
            editor.alter_db_table(ReceiverCommand, "receivers_receivercommand_away", table)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "An unexpected error occurred processing the request"
    [(_, fields)] = redis_client.xrange(STREAM)
    assert fields["receiverCommand"] == "STOP", "the command is in force although unrecorded"


@pytest.mark.parametrize("key", ["PRIMARY", "SECONDARY"])
def test_a_command_records_which_api_key_sent_it(client, redis_client, key):
    headers = {"x-api-key": getattr(settings.DISPATCHER, f"SECURITY_API_KEYS_{key}")}

    post_command(client, headers, {"command": "START"})

    assert ReceiverCommand.objects.get().sent_by == f"api key ({key.lower()})"


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}])
def test_without_a_valid_api_key_the_answer_is_a_401_problem(client, method, headers):
    url = STATUS_URL if method == "get" else COMMANDS_URL

    response = getattr(client, method)(url, headers=headers)

    # The reference answered with an empty body; here every API error is JSON (issue 14).
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "title": "Unauthorized",
        "status": 401,
        "detail": "A valid x-api-key header is required.",
    }


def test_the_secondary_key_is_accepted(client, redis_client):
    write_status(redis_client, "event-dispatcher-a", "PROD")

    response = client.get(STATUS_URL, headers={"x-api-key": settings.DISPATCHER.SECURITY_API_KEYS_SECONDARY})

    assert response.status_code == 200


def test_status_lists_every_reporting_process(client, api_headers, redis_client):
    write_status(redis_client, "event-dispatcher-a", "PROD")
    write_status(redis_client, "event-dispatcher-b", "STAGING", status="DOWN")

    response = client.get(STATUS_URL, headers=api_headers)

    assert response.status_code == 200
    statuses = sorted(response.json()["status"], key=lambda s: s["instanceId"])
    assert statuses == [
        {
            "instanceId": "event-dispatcher-a",
            "deploymentVersion": "PROD",
            "receiverStatuses": [{"name": "storageQueueClosuresMessageSource", "status": "UP"}],
        },
        {
            "instanceId": "event-dispatcher-b",
            "deploymentVersion": "STAGING",
            "receiverStatuses": [{"name": "storageQueueClosuresMessageSource", "status": "DOWN"}],
        },
    ]


@pytest.mark.parametrize("corrupt", ["{not json", "[1, 2]", "null"])
def test_status_skips_an_undecodable_status_document(client, api_headers, redis_client, corrupt):
    write_status(redis_client, "event-dispatcher-a", "PROD")
    redis_client.set("receiver-status:event-dispatcher-broken", corrupt)

    response = client.get(STATUS_URL, headers=api_headers)

    assert response.status_code == 200
    assert [s["instanceId"] for s in response.json()["status"]] == ["event-dispatcher-a"]


def test_status_filters_by_version(client, api_headers, redis_client):
    write_status(redis_client, "event-dispatcher-a", "PROD")
    write_status(redis_client, "event-dispatcher-b", "STAGING")

    response = client.get(STATUS_URL, {"version": "STAGING"}, headers=api_headers)

    assert [s["instanceId"] for s in response.json()["status"]] == ["event-dispatcher-b"]


def test_status_without_reporting_processes_is_404(client, api_headers, redis_client):
    write_status(redis_client, "event-dispatcher-a", "PROD")

    response = client.get(STATUS_URL, {"version": "STAGING"}, headers=api_headers)

    assert response.status_code == 404
    assert response.json() == {"title": "Not found", "status": 404, "detail": "No data found for receiver statuses"}


def test_status_with_an_unknown_version_is_400(client, api_headers):
    response = client.get(STATUS_URL, {"version": "BLUE"}, headers=api_headers)

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("fields", "version", "expected"),
    [
        ({"type": "RECEIVER_COMMAND", "receiverCommand": "STOP", "version": "PROD"}, "PROD", "STOP"),
        ({"type": "RECEIVER_COMMAND", "receiverCommand": "STOP", "version": "STAGING"}, "PROD", None),
        ({"type": "RECEIVER_COMMAND", "receiverCommand": "START", "version": "null"}, "STAGING", "START"),
        ({"type": "RECEIVER_COMMAND", "receiverCommand": "START"}, "STAGING", "START"),
        ({"type": "OTHER", "receiverCommand": "START"}, "PROD", None),
        ({"type": "RECEIVER_COMMAND", "receiverCommand": "PAUSE"}, "PROD", None),
    ],
)
def test_a_command_applies_to_its_version_or_to_all(fields, version, expected):
    assert command_targets(fields, version) == expected
