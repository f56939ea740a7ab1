"""Handler tests drive real queue messages through the queue runtime, against Azurite, the test
database and loopback HTTP stand-ins for Nodo, NPG, the node forwarder and the PDV."""

from __future__ import annotations

import subprocess

import pytest

from receivers.processing import process_message
from receivers.queues import queue_client
from tests import queue_support
from tests.queue_support import (  # noqa: F401 - re-exported for the test modules
    dead_letters,
    hidden_count,
    queue_length,
    requests_to,
    visible_events,
    wait_until_visible,
)
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
    timeouts, one-second retry intervals and a one-second relay grace period."""
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
        OUTBOX_RELAY_GRACE_SECONDS=1,
        REFUND_RETRY_EVENT_BASE_INTERVAL_SECONDS=1,
        **changes,
    )
    httpserver.expect_request("/pdv/tokens/" + "5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f" + "/pii").respond_with_json(
        {"pii": EMAIL}
    )
    return httpserver


def send_event(queue_key: str, event: dict, tracing_info: dict = TRACING) -> None:
    queue_support.send_event(queue_key, event, tracing_info)


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
