"""Every 4xx and 500 on an API path is JSON in that API's own format, whatever DJANGO_DEBUG says, and
client errors are logged at WARNING without a traceback (server errors at ERROR with one)."""

import logging
import uuid

import pytest
from django.test import Client

from tests.api.faulty_urls import FAULTY_PATHS
from tests.api.formats import envelope_message, format_of, notify_message, problem_message

pytestmark = pytest.mark.django_db

KEY = {"x-api-key": "test-primary-api-key"}


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def client_error_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    "path", ["/event-dispatcher/no-such-thing", "/v2/no-such-thing", "/notifications/sms/nobody", "/no-such-thing"]
)
def test_an_unknown_path_is_a_404_in_its_apis_format(raw_client, debug, caplog, path):
    response = raw_client.get(path, headers=KEY)

    assert path in format_of(path)(response, 404)
    assert client_error_records(caplog) == []


def test_a_malformed_service_id_is_a_404_in_the_statistics_format(raw_client, debug):
    response = raw_client.get("/service/not-a-uuid/notifications-statistics", headers=KEY)

    assert "not-a-uuid" in envelope_message(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/notifications/sms/firetext", "POST"),
        ("put", "/notifications/email/ses", "POST"),
        ("get", "/v2/notifications/sms", "POST"),
        ("delete", "/v2/notifications", "GET"),
        ("get", "/event-dispatcher/event-receivers/commands", "POST"),
        ("post", "/event-dispatcher/event-receivers/status", "GET"),
        ("post", f"/service/{uuid.uuid4()}/notifications-statistics", "GET"),
        ("post", "/health/liveness", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_in_its_apis_format_naming_the_allowed_ones(
    raw_client, debug, caplog, method, path, allowed
):
    response = getattr(raw_client, method)(path, headers=KEY)

    message = format_of(path)(response, 405)
    assert method.upper() in message
    assert allowed in message
    assert response["Allow"] == allowed
    assert client_error_records(caplog) == []


@pytest.mark.parametrize(
    "path", [f"/service/{uuid.uuid4()}/notifications-statistics", "/event-dispatcher/event-receivers/status"]
)
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_a_missing_or_wrong_operator_key_is_a_401_in_its_apis_format(raw_client, debug, caplog, path, key):
    response = raw_client.get(path, headers={"x-api-key": key} if key else {})

    assert "x-api-key" in format_of(path)(response, 401)
    assert client_error_records(caplog) == []


def test_a_v2_call_without_a_token_is_a_401_in_notifys_format(raw_client, debug):
    response = raw_client.get("/v2/notifications")

    assert notify_message(response, 401) == "Unauthorized: authentication token must be provided"


@pytest.mark.urls("tests.api.faulty_urls")
@pytest.mark.parametrize("path", FAULTY_PATHS)
def test_a_failing_view_is_a_500_in_its_apis_format_and_logged_with_its_traceback(raw_client, debug, caplog, path):
    response = raw_client.get(path, headers=KEY)

    message = format_of(path)(response, 500)
    assert "bug" not in message, "internal details stay in the log"
    if format_of(path) is problem_message:
        assert message == "An unexpected error occurred processing the request", "the reference's wording"
    assert b"Traceback" not in response.content
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.exc_info[0] is RuntimeError


@pytest.mark.parametrize(("method", "path"), [("get", "/v2/no-such-thing"), ("post", "/health/liveness")])
def test_a_rewritten_error_declares_the_length_of_its_new_body(raw_client, method, path):
    response = getattr(raw_client, method)(path)

    assert int(response["Content-Length"]) == len(response.content)


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_api_paths_answer_a_wrong_method_with_405_not_a_csrf_403(method):
    """The APIs use no session cookie, so CSRF has nothing to protect there (the admin keeps it)."""
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)("/health/liveness")

    assert problem_message(response, 405).startswith(f"Method {method.upper()} is not allowed")


def test_the_admin_still_checks_csrf():
    client = Client(enforce_csrf_checks=True)

    assert client.post("/admin/login/", {"username": "a", "password": "b"}).status_code == 403
