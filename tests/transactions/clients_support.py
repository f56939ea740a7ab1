"""What the client tests share: configuration overrides, a real statsd listener, a port nobody listens on.

Import the fixtures into a test module with `from tests.transactions.clients_support import ...`.
"""

from __future__ import annotations

import socket
import time

import pytest
from werkzeug import Response

from dispatcher_site.local_servers import free_port
from tests.statsd_support import StatsdListener

SLOW_ANSWER_SECONDS = 0.6
SHORT_READ_TIMEOUT_MS = 200


def configure(settings, **changes) -> None:
    """Replace configuration variables for this test (pytest-django restores them afterwards)."""
    settings.DISPATCHER = settings.DISPATCHER.replace(**changes)


def base_url(httpserver) -> str:
    return httpserver.url_for("").rstrip("/")


def unused_base_url() -> str:
    """A loopback URL whose port has nothing listening: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


def slow_handler(request) -> Response:
    time.sleep(SLOW_ANSWER_SECONDS)
    return Response("{}", status=200, content_type="application/json")


def wait_until_answered(httpserver, count: int = 1, limit_seconds: float = 5.0) -> None:
    """Wait until the server has answered `count` requests.

    The loopback server answers one request at a time: a test that made it sleep waits here so the
    next test does not queue behind the sleeping answer.
    """
    deadline = time.monotonic() + limit_seconds
    while len(httpserver.log) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def only_request(httpserver):
    """The single request the server received (fails the test when there were none or several)."""
    assert len(httpserver.log) == 1, [request.path for request, _ in httpserver.log]
    return httpserver.log[0][0]


@pytest.fixture
def silent_base_url():
    """A loopback server that accepts connections and never answers: every read times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def statsd_listener(settings):
    """A UDP socket on 127.0.0.1 that the service's statsd client sends to for this test."""
    listener = StatsdListener()
    configure(settings, STATSD_ENABLED=True, STATSD_HOST="127.0.0.1", STATSD_PORT=listener.port, STATSD_PREFIX="")
    yield listener
    listener.close()


def metric_names(lines: list[str]) -> dict[str, str]:
    """{stat name without the environment namespace: type} for statsd lines like `a.b:12|ms`."""
    result = {}
    for line in lines:
        name, _, value = line.partition(":")
        result[name.split(".clients.", 1)[-1]] = value.split("|")[1]
    return result
