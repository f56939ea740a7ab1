"""The NUL character, which PostgreSQL stores in no text or jsonb column, is refused with a 400 in the
API's format wherever a request can carry it (a JSON string, the path, the query string, a form body),
on both databases: found by Schemathesis on PostgreSQL as a 500 (`POST /v2/notifications/sms` with
`"reference": "\\u0000"`)."""

import pytest

from tests.api.formats import format_of
from tests.api.test_body_limits import JSON_OPERATIONS, headers_for, noisy_records, nothing_stored
from tests.notifications.test_v2_api import auth

pytestmark = pytest.mark.django_db

SERVICE_ID = "8d4e55cb-4fb2-4b2e-9b3e-7a6f0e0c1b2a"


@pytest.mark.parametrize(("path", "content_type", "needs_token"), JSON_OPERATIONS)
def test_a_json_string_holding_nul_is_a_400_in_the_apis_format(
    raw_client, caplog, api_key, path, content_type, needs_token
):
    body = '{"reference": "a\\u0000b", "command": "STOP"}'

    response = raw_client.post(path, body, content_type=content_type, headers=headers_for(needs_token, api_key))

    message = format_of(path)(response, 400)
    if not path.endswith("/commands"):  # the receiver API keeps the reference's fixed 400 body
        assert "NUL character" in message
    assert nothing_stored()
    assert noisy_records(caplog) == []


def test_a_v2_notification_whose_reference_holds_nul_is_refused(client, api_key, sms_template):
    body = {"phone_number": "07700900123", "template_id": str(sms_template.id), "reference": "my\x00ref"}

    response = client.post("/v2/notifications/sms", body, content_type="application/json", headers=auth(api_key))

    assert "NUL character" in format_of("/v2/")(response, 400)
    assert nothing_stored()


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/v2/notifications?reference=a%00b", "query string"),
        (f"/service/{SERVICE_ID}/notifications-statistics?limit_days=%00", "query string"),
        ("/event-dispatcher/event-receivers/status?version=%00", "query string"),
        ("/event-dispatcher/transactions/a%00b", "path"),
        ("/v2/notifications/a%00b", "path"),
    ],
)
def test_nul_in_the_path_or_query_string_is_a_400_in_the_apis_format(raw_client, caplog, api_key, path, where):
    response = raw_client.get(path, headers=headers_for(path.startswith("/v2/"), api_key))

    assert format_of(path)(response, 400) == f"The {where} must not contain the NUL character (%00)."
    assert noisy_records(caplog) == []


def test_nul_in_a_firetext_form_body_is_a_400_in_the_callback_format(raw_client, caplog):
    body = "status=0&reference=8d4e55cb-4fb2-4b2e-9b3e-7a6f0e0c1b2a&code=%00&time=2026-12-02 10:00"

    response = raw_client.post("/notifications/sms/firetext", body, content_type="application/x-www-form-urlencoded")

    assert format_of("/notifications/")(response, 400) == "The form body must not contain the NUL character (%00)."
    assert noisy_records(caplog) == []


@pytest.mark.parametrize(
    "path",
    [
        "/v2/notifications",
        f"/service/{SERVICE_ID}/notifications-statistics",
        "/event-dispatcher/event-receivers/status",
        "/health/liveness",
    ],
)
def test_a_uri_over_4094_characters_is_a_414_in_the_apis_format(raw_client, caplog, api_key, path):
    response = raw_client.get(f"{path}?x=" + "y" * 4100, headers=headers_for(path.startswith("/v2/"), api_key))

    assert format_of(path)(response, 414) == "The request URI is longer than 4094 characters."
    assert noisy_records(caplog) == []
