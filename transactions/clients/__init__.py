"""HTTP clients of the services the dispatcher calls (spec Part B §8), one module per service.

What they share lives here: one `requests.Session` per service; explicit (connect, read) timeouts
read from the configuration at call time (milliseconds there); no retries of any kind, because
retrying is the queue's job; a statsd timing and a success or error count for every call; and one
error shape, `ClientError`, which carries the HTTP status (None when there was no usable answer:
timeout, connection failure, unparsable body, missing configuration), the parsed error body where
the spec uses it, and `retryable`, each service's classification of the failure.

Nothing secret goes into a log line or an exception message: no api key, no request or response
body, no URL (a PDV URL carries a token), and no text of the underlying `requests` exception.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
import simplejson
from django.conf import settings
from requests.adapters import HTTPAdapter

from dispatcher_site.metrics import statsd_client

logger = logging.getLogger(__name__)

T = TypeVar("T")


class FailureReason(enum.StrEnum):
    HTTP_STATUS = "http-status"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    INVALID_RESPONSE = "invalid-response"
    NOT_CONFIGURED = "not-configured"


class ClientError(Exception):
    """A call to an external service failed. Subclasses name the service and classify the failure."""

    service = "external service"

    def __init__(
        self,
        operation: str,
        reason: FailureReason,
        status: int | None = None,
        body: Any = None,
        detail: str = "",
    ):
        self.operation = operation
        self.reason = FailureReason(reason)
        self.status = status
        self.body = body
        self.detail = detail
        super().__init__(self._describe())

    def _describe(self) -> str:
        what = {
            FailureReason.HTTP_STATUS: f"HTTP {self.status}",
            FailureReason.TIMEOUT: "timed out",
            FailureReason.CONNECTION: "could not connect",
            FailureReason.INVALID_RESPONSE: "invalid response",
            FailureReason.NOT_CONFIGURED: "not configured",
        }[self.reason]
        return f"{self.service} {self.operation} failed: {what}" + (f" ({self.detail})" if self.detail else "")

    @classmethod
    def retryable_status(cls, status: int | None) -> bool:
        """The default rule: no answer or a server error may go away; any other status will not."""
        return status is None or status >= 500

    @property
    def retryable(self) -> bool:
        return self.retryable_status(self.status)


class ClientConfigurationError(ClientError):
    """The call cannot be made with this configuration (empty base URL, no NPG key for a PSP).

    No HTTP request was sent. It counts as retryable, like every failure without a status in the
    reference: the queue retries it and a corrected deployment lets a later attempt succeed.
    """

    def __init__(self, service: str, operation: str, detail: str):
        self.service = service
        super().__init__(operation, FailureReason.NOT_CONFIGURED, detail=detail)


@dataclass(frozen=True)
class Service:
    """One external service: its name in metrics and logs, its configuration and its error class."""

    name: str
    url_variable: str
    timeout_prefix: str
    error: type[ClientError]

    def base_url(self) -> str:
        return getattr(settings.DISPATCHER, self.url_variable).rstrip("/")

    def timeouts(self) -> tuple[float, float]:
        config = settings.DISPATCHER
        return (
            getattr(config, f"{self.timeout_prefix}_CONNECTION_TIMEOUT") / 1000,
            getattr(config, f"{self.timeout_prefix}_READ_TIMEOUT") / 1000,
        )


_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def session_for(service: Service) -> requests.Session:
    with _sessions_lock:
        session = _sessions.get(service.name)
        if session is None:
            session = requests.Session()
            # No retries at any level (the default adapter's are already off; say it out loud).
            adapter = HTTPAdapter(max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[service.name] = session
        return session


def encode_json(body: Any) -> bytes:
    """JSON bytes; a Decimal is written as a number with its own scale (euro 1.00 stays `1.00`, as the
    reference's BigDecimal amounts do), which the standard library cannot do without a float."""
    return simplejson.dumps(body, use_decimal=True, ensure_ascii=False, separators=(",", ":")).encode()


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def call(
    service: Service,
    operation: str,
    method: str,
    path: str,
    *,
    parse: Callable[[requests.Response], T],
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    ok_statuses: Collection[int] = range(200, 300),
) -> T:
    """Send one request and return `parse(response)`, or raise `service.error` (or ClientConfigurationError).

    `parse` turns a response with one of `ok_statuses` into the typed result; a `ValueError`,
    `KeyError` or `TypeError` from it means the answer is unusable (status None, INVALID_RESPONSE).
    Any other status raises with the status and the body parsed as JSON (None when it is not JSON).
    """
    try:
        response, elapsed_ms = _send(service, operation, method, path, headers, params, json_body)
        result = _read(service, operation, response, ok_statuses, parse)
    except ClientError as error:
        statsd_client().incr(f"clients.{service.name}.error")
        logger.warning("%s (retryable: %s)", error, error.retryable)
        raise
    statsd_client().incr(f"clients.{service.name}.success")
    logger.info("%s %s: HTTP %s in %.0f ms", service.name, operation, response.status_code, elapsed_ms)
    return result


def _send(
    service: Service,
    operation: str,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    json_body: Any,
) -> tuple[requests.Response, float]:
    base_url = service.base_url()
    if not base_url:
        raise ClientConfigurationError(service.name, operation, f"{service.url_variable} is empty")
    all_headers = dict(headers or {})
    data = None
    if json_body is not None:
        data = encode_json(json_body)
        all_headers["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        response = session_for(service).request(
            method,
            base_url + path,
            headers=all_headers,
            params=params,
            data=data,
            timeout=service.timeouts(),
            allow_redirects=False,
        )
    # `from None`: the requests exception's text carries the URL, which may carry a token.
    except requests.Timeout:
        raise service.error(operation, FailureReason.TIMEOUT) from None
    except requests.RequestException as exception:
        raise service.error(operation, FailureReason.CONNECTION, detail=type(exception).__name__) from None
    finally:
        elapsed_ms = (time.monotonic() - started) * 1000
        statsd_client().timing(f"clients.{service.name}.request-time", elapsed_ms)
    return response, elapsed_ms


def _read(
    service: Service,
    operation: str,
    response: requests.Response,
    ok_statuses: Collection[int],
    parse: Callable[[requests.Response], T],
) -> T:
    if response.status_code not in ok_statuses:
        raise service.error(operation, FailureReason.HTTP_STATUS, response.status_code, json_or_none(response))
    try:
        return parse(response)
    except (ValueError, KeyError, TypeError):
        raise service.error(operation, FailureReason.INVALID_RESPONSE, detail=f"HTTP {response.status_code}") from None


def no_content(response: requests.Response) -> None:
    """`parse` for calls whose answer carries nothing we use."""
    return None


def json_object(response: requests.Response) -> dict[str, Any]:
    """The body as a JSON object, or ValueError (the call then fails as an invalid response)."""
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body
