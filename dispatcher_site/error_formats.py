"""Which error format answers a path: each HTTP API speaks its own (issue 14).

1. Apps register the format of their path prefixes when they start (`register_error_format`); the
   longest registered prefix of a path wins.
2. The admin and its static files are not API paths: Django's HTML pages stay theirs.
3. Every other path, registered or not, is an API path; unregistered ones (the receiver and
   transactions APIs under /event-dispatcher/, health, /openapi.json, unknown paths) speak RFC 7807
   problem JSON, the error shape of the reference's REST API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from django.http import HttpResponse

from dispatcher_site.problems import problem

NON_API_PREFIXES = ("/admin/", "/static/")


@dataclass(frozen=True)
class ErrorFormat:
    name: str
    build: Callable[[int, str], HttpResponse]  # (status, message) -> the error response
    server_error_message: str  # what a 500 says: internal details stay in the log


PROBLEM_JSON = ErrorFormat(
    "problem+json",
    lambda status, message: problem(status, HTTPStatus(status).phrase, message),
    # The reference's wording for its own 500 (spec dispatcher.md §9).
    "An unexpected error occurred processing the request",
)

_registered: dict[str, ErrorFormat] = {}


def register_error_format(prefix: str, error_format: ErrorFormat) -> None:
    _registered[prefix] = error_format


def error_format_for(path: str) -> ErrorFormat | None:
    """The format of the API `path` belongs to; None for the admin's pages."""
    if path.startswith(NON_API_PREFIXES):
        return None
    matches = [prefix for prefix in _registered if path.startswith(prefix)]
    return _registered[max(matches, key=len)] if matches else PROBLEM_JSON


def error_response(path: str, status: int, message: str | None = None) -> HttpResponse:
    """An error in the format of `path`'s API; without a message, the format's words for the status."""
    error_format = error_format_for(path) or PROBLEM_JSON
    if message is None:
        message = error_format.server_error_message if status >= 500 else HTTPStatus(status).phrase
    return error_format.build(status, message)
