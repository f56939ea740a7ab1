"""Hostile bodies get a 400 or 413 in the format of the API they were sent to, change nothing, and are
logged at WARNING without a traceback: a body over the size limit, JSON nested 100,000 levels deep."""

import json
import logging

import pytest

from notifications.models import Notification
from receivers.models import ReceiverCommand
from tests.api.formats import format_of
from tests.notifications.conftest import ses_body
from tests.notifications.test_v2_api import auth
from transactions.models import TransactionEvent

pytestmark = pytest.mark.django_db

KEY = {"x-api-key": "test-primary-api-key"}
DEEP_JSON = "[" * 100_000 + "]" * 100_000
SIZE_LIMIT = 10_000

# (path, content type, needs a Notify token): every operation that reads a JSON body.
JSON_OPERATIONS = [
    ("/event-dispatcher/event-receivers/commands", "application/json", False),
    ("/event-dispatcher/transactions/events", "application/json", False),
    ("/notifications/sms/mmg", "application/json", False),
    ("/notifications/email/ses", "text/plain", False),
    ("/v2/notifications/sms", "application/json", True),
    ("/v2/notifications/email", "application/json", True),
]
BODY_OPERATIONS = [*JSON_OPERATIONS, ("/notifications/sms/firetext", "application/x-www-form-urlencoded", False)]


def headers_for(needs_token: bool, api_key: str) -> dict:
    return {**KEY, **(auth(api_key) if needs_token else {})}


def nothing_stored() -> bool:
    return not (Notification.objects.exists() or TransactionEvent.objects.exists() or ReceiverCommand.objects.exists())


def noisy_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(("path", "content_type", "needs_token"), BODY_OPERATIONS)
def test_a_body_over_the_size_limit_is_a_413_in_the_apis_format(
    raw_client, settings, caplog, api_key, path, content_type, needs_token
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = SIZE_LIMIT
    body = "reference=" + "x" * SIZE_LIMIT if content_type.endswith("urlencoded") else json.dumps(["x" * SIZE_LIMIT])

    response = raw_client.post(path, body, content_type=content_type, headers=headers_for(needs_token, api_key))

    assert f"{SIZE_LIMIT} bytes" in format_of(path)(response, 413)
    assert nothing_stored()
    assert noisy_records(caplog) == []
    assert any(r.levelno == logging.WARNING and "Request Entity Too Large" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("path", "content_type", "needs_token"), JSON_OPERATIONS)
def test_json_nested_100000_levels_deep_is_a_400_in_the_apis_format(
    raw_client, caplog, api_key, path, content_type, needs_token
):
    response = raw_client.post(path, DEEP_JSON, content_type=content_type, headers=headers_for(needs_token, api_key))

    message = format_of(path)(response, 400)
    if not path.endswith("/commands"):  # the receiver API keeps the reference's fixed 400 body
        assert "nested deeper than" in message
    assert nothing_stored()
    assert noisy_records(caplog) == []


def test_json_nested_100000_levels_deep_inside_a_signed_ses_message_is_a_400(raw_client, sns, caplog):
    envelope = json.loads(ses_body())
    envelope["Message"] = DEEP_JSON

    response = raw_client.post("/notifications/email/ses", sns.sign(envelope), content_type="text/plain")

    assert format_of("/notifications/")(response, 400) == "SES callback failed: JSON nested deeper than 64 levels"
    assert noisy_records(caplog) == []


def test_a_body_just_under_the_limit_is_read(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = SIZE_LIMIT
    body = json.dumps({"status": "3", "CID": "not-a-uuid", "padding": "x" * (SIZE_LIMIT - 100)})

    response = client.post("/notifications/sms/mmg", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["message"] == "MMG callback with invalid reference not-a-uuid"


def test_too_many_form_fields_is_a_400_that_says_so(raw_client, caplog):
    body = "&".join(f"field{n}=x" for n in range(1001))

    response = raw_client.post("/notifications/sms/firetext", body, content_type="application/x-www-form-urlencoded")

    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in format_of("/notifications/")(response, 400)
    assert noisy_records(caplog) == []


def test_a_multipart_body_that_cannot_be_parsed_is_a_400_that_says_so(raw_client, caplog):
    response = raw_client.post(
        "/notifications/sms/firetext", "status=0&reference=x", content_type="multipart/form-data"
    )

    assert "Invalid boundary" in format_of("/notifications/")(response, 400)
    assert noisy_records(caplog) == []


def test_a_host_that_is_not_served_is_a_400_in_the_apis_format(raw_client, caplog):
    response = raw_client.get("/v2/notifications", headers={"Host": "evil.example"})

    assert "Host" in format_of("/v2/")(response, 400)
    assert noisy_records(caplog) == []
