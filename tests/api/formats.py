"""The error format of each HTTP API, as a caller sees it, and which paths speak which.

- `/event-dispatcher/…`, health, `/openapi.json` and unknown paths: RFC 7807 problem JSON;
- `/v2/…`: GOV.UK Notify's v2 errors `{"status_code", "errors": [{"error", "message"}]}`;
- `/notifications/…` (provider callbacks) and `/service/…` (statistics): `{"result": "error", "message"}`.
"""

from collections.abc import Callable

from django.http import HttpResponse


def problem_message(response: HttpResponse, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    return body["detail"]


def notify_message(response: HttpResponse, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert body["status_code"] == status
    [error] = body["errors"]
    assert isinstance(error["error"], str)
    assert isinstance(error["message"], str)
    return error["message"]


def envelope_message(response: HttpResponse, status: int) -> str:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert body["result"] == "error"
    message = body["message"]
    return message if isinstance(message, str) else str(message)


def format_of(path: str) -> Callable[[HttpResponse, int], str]:
    """The checker of the API `path` belongs to; it returns the error's message."""
    if path.startswith("/v2/"):
        return notify_message
    if path.startswith(("/notifications/", "/service/")):
        return envelope_message
    return problem_message
