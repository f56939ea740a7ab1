"""Handler tests drive real queue messages through the queue runtime, against Azurite, the test
database and loopback HTTP stand-ins for Nodo, NPG, the node forwarder and the PDV."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from receivers.handlers import serialize_queue_event
from receivers.processing import process_message
from receivers.queues import queue_client
from tests.transactions.clients_support import silent_base_url  # noqa: F401 - fixture
from tests.transactions.handlers.builders import PSP_ID, REDIRECT_TYPE, TRACING

NPG_KEYS = {
    method: {PSP_ID: f"{method.lower()}-key"}
    for method in ("CARDS", "PAYPAL", "BANCOMATPAY", "MYBANK", "APPLEPAY", "GOOGLEPAY", "SATISPAY")
}
REDIRECT_URL = "https://psp.example.org:8443/redirect/api"
EMAIL = "mario.rossi@example.org"
# The runtime and the stand-ins use their own connections: real commits, and only these apps' tables flushed.
HANDLER_DB = pytest.mark.django_db(transaction=True, available_apps=["transactions", "receivers"])
HANDLER_QUEUES = ("close-payment", "close-payment-retry", "expiration", "refund", "refund-retry", "dead-letter")
FISCAL_CODE = "RSSMRA80A01H501U"


@pytest.fixture
def queues(queues_created):
    """The queues these handlers read and write, emptied before the test."""
    for key in HANDLER_QUEUES:
        queue_client(key).clear_messages()
    return HANDLER_QUEUES


@pytest.fixture
def stand_ins(httpserver, settings, queues):
    """Nodo, NPG, the node forwarder and the PDV on one loopback server, under distinct paths; short
    timeouts and one-second retry intervals."""
    base = httpserver.url_for("").rstrip("/")
    changes = {f"NPG_{method}_PSP_KEYS": keys for method, keys in NPG_KEYS.items()}
    settings.DISPATCHER = settings.DISPATCHER.replace(
        NODO_URI=f"{base}/nodo",
        NODO_NODEFORECOMMERCE_API_KEY="nodo-key",
        NPG_URI=f"{base}/npg",
        NODE_FORWARDER_URL=f"{base}/forwarder",
        NODE_FORWARDER_API_KEY="forwarder-key",
        PERSONAL_DATA_VAULT_API_BASE_PATH=f"{base}/pdv",
        ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY="ecommerce-pdv-key",
        REDIRECT_URL_CONFIGURATION=[
            {"url": REDIRECT_URL, "matchingCriteria": {"PSP_ID": PSP_ID, "PAYMENT_TYPE_CODE": REDIRECT_TYPE}}
        ],
        NODO_READ_TIMEOUT=500,
        NPG_READ_TIMEOUT=500,
        NODE_FORWARDER_READ_TIMEOUT=500,
        PERSONAL_DATA_VAULT_READ_TIMEOUT=500,
        CLOSE_PAYMENT_RETRY_EVENT_BASE_INTERVAL_SECONDS=1,
        REFUND_RETRY_EVENT_BASE_INTERVAL_SECONDS=1,
        **changes,
    )
    httpserver.expect_request("/pdv/tokens/" + "5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f" + "/pii").respond_with_json(
        {"pii": EMAIL}
    )
    return httpserver


def send_event(queue_key: str, event: dict, tracing_info: dict = TRACING) -> None:
    queue_client(queue_key).send_message(serialize_queue_event(event, tracing_info))


def visible_events(queue_key: str) -> list[dict]:
    """The QueueEvents visible on a queue now (peeked, so they stay)."""
    return [json.loads(message.content) for message in queue_client(queue_key).peek_messages(max_messages=32)]


def queue_length(queue_key: str) -> int:
    """Messages on the queue, visible or not."""
    return queue_client(queue_key).get_queue_properties().approximate_message_count


def hidden_count(queue_key: str) -> int:
    """Messages on the queue that are not visible yet (sent with a visibility delay)."""
    return queue_length(queue_key) - len(visible_events(queue_key))


def wait_until_visible(queue_key: str, limit_seconds: float = 10.0) -> list[dict]:
    """The queue's visible QueueEvents once there are some (a delayed message became visible)."""
    deadline = time.monotonic() + limit_seconds
    while not (events := visible_events(queue_key)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return events


def dead_letters() -> list[dict]:
    return visible_events("dead-letter")


def requests_to(httpserver, prefix: str) -> list:
    """The requests the stand-in under `prefix` received, oldest first."""
    return [request for request, _ in httpserver.log if request.path.startswith(prefix)]


def deliver(queue_key: str, event: dict, tracing_info: dict = TRACING) -> None:
    """Send the QueueEvent to its queue and let the queue runtime handle what is visible there."""
    send_event(queue_key, event, tracing_info)
    consume(queue_key)


def consume(queue_key: str) -> None:
    """Receive the visible messages of the queue once and hand each to the queue runtime, which parses
    them, runs the handler, sends its outbox, dead-letters and deletes, as `consume_queue` does."""
    client = queue_client(queue_key)
    for received in client.receive_messages(max_messages=32, messages_per_page=32, visibility_timeout=5):
        process_message(queue_key, received)


def run_consume_queue(manage_py, subprocess_env, queue_key: str, **env: str) -> str:
    """Run `manage.py consume_queue QUEUE --once` as operators do; its output, after it exits 0."""
    command = [*manage_py, "consume_queue", queue_key, "--once", "--poll-interval", "0.05"]
    environment = {**subprocess_env, "LOG_LEVEL": "WARNING", **env}
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr
