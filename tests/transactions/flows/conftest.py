"""Fixtures of the flow tests: spans in memory, queues emptied, loopback stand-ins for the services, and
delivery of real QueueEvents through Azurite and the queue runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from receivers import handlers
from receivers.handlers import HandlerRegistration
from receivers.models import OutboxMessage
from receivers.outbox import Outbox
from receivers.processing import process_message
from receivers.queues import QUEUES, queue_client
from tests import queue_support
from tests.queue_support import (  # noqa: F401 - re-exported for the test modules
    dead_letters,
    hidden_count,
    queue_length,
    requests_to,
    visible_events,
)
from tests.transactions.clients_support import statsd_listener  # noqa: F401 - fixture for the flow tests
from tests.transactions.flows.stories import TRACING_INFO
from transactions.models import Transaction
from transactions.store import load_events, store_incoming_event


def status_spans(exporter) -> list[dict]:
    """The attributes of every "Transaction status updated" span finished so far, in order."""
    return [
        dict(span.attributes) for span in exporter.get_finished_spans() if span.name == "Transaction status updated"
    ]


# --- queues, stand-in services, delivery through the queue runtime ----------------------------------


EMAIL_TOKEN = "5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f"
EMAIL = "mario.rossi@example.org"
PSP_ID = "BCITITMM"
NPG_KEYS = {
    method: {PSP_ID: f"{method.lower()}-key"}
    for method in ("CARDS", "PAYPAL", "BANCOMATPAY", "MYBANK", "APPLEPAY", "GOOGLEPAY", "SATISPAY")
}
FLOW_QUEUES = ("notifications", "notifications-retry", "authorization-requested", "authorization-outcome-waiting")


@pytest.fixture
def queues(queues_created):
    """The queues the flow handlers read and write, emptied before the test."""
    for key in (*FLOW_QUEUES, "refund", "dead-letter"):
        queue_client(key).clear_messages()
    return QUEUES


@pytest.fixture
def services(httpserver, settings, queues):
    """PDV, the notifications service, the transactions service, NPG and user stats on one loopback
    server under distinct paths, with short read timeouts; the PDV knows the test e-mail token."""
    base = httpserver.url_for("").rstrip("/")
    settings.DISPATCHER = settings.DISPATCHER.replace(
        PERSONAL_DATA_VAULT_API_BASE_PATH=f"{base}/pdv",
        ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY="pdv-key",
        NOTIFICATIONS_SERVICE_URI=f"{base}/notifications-service",
        NOTIFICATIONS_SERVICE_API_KEY="notifications-key",
        TRANSACTIONS_SERVICE_URI=f"{base}/transactions-service",
        TRANSACTIONS_SERVICE_API_KEY="transactions-key",
        NPG_URI=f"{base}/npg",
        USER_STATS_URL=f"{base}/user-stats",
        USER_STATS_API_KEY="user-stats-key",
        PERSONAL_DATA_VAULT_READ_TIMEOUT=1000,
        NOTIFICATIONS_SERVICE_READ_TIMEOUT=1000,
        TRANSACTIONS_SERVICE_READ_TIMEOUT=1000,
        NPG_READ_TIMEOUT=1000,
        USER_STATS_READ_TIMEOUT=1000,
        **{f"NPG_{method}_PSP_KEYS": keys for method, keys in NPG_KEYS.items()},
    )
    httpserver.expect_request(f"/pdv/tokens/{EMAIL_TOKEN}/pii").respond_with_json({"pii": EMAIL})
    return httpserver


@pytest.fixture
def sent_messages() -> Iterator[list]:
    """What the flow handlers' decisions committed to their outboxes, as (queue, QueueEvent, visibility) tuples.

    The registered handlers are wrapped, not replaced: the real handler runs and the runtime sends
    its outbox as usual. Azure does not show a hidden message's visibility delay, so this is where a
    test reads it.
    """
    recorded: list = []
    originals = {key: handlers.HANDLERS[key] for key in FLOW_QUEUES}

    def recording(registration: HandlerRegistration):
        def handle(message, outbox: Outbox) -> None:
            registration.handle(message, outbox)
            rows = OutboxMessage.objects.in_bulk(outbox.committed_row_ids)
            follow_ups = [rows[row_id] for row_id in outbox.committed_row_ids if not rows[row_id].is_dead_letter]
            recorded.extend((m.queue_key, json.loads(m.text), m.visibility_seconds) for m in follow_ups)

        handle.__name__ = registration.name
        return HandlerRegistration(registration.queue_key, registration.accepts, handle, registration.parse)

    for key, registration in originals.items():
        handlers.HANDLERS[key] = recording(registration)
    yield recorded
    handlers.HANDLERS.update(originals)


def store(events) -> None:
    for event in events:
        store_incoming_event(event)


def send_event(queue_key: str, event, tracing_info: dict = TRACING_INFO) -> None:
    queue_support.send_event(queue_key, event, tracing_info)


def deliver(queue_key: str, event, tracing_info: dict = TRACING_INFO) -> None:
    """Send the event as a QueueEvent to its queue and let the queue runtime handle the queue once."""
    send_event(queue_key, event, tracing_info)
    consume(queue_key)


def stored_codes(transaction_id: str) -> list[str]:
    return [event.event_code.value for event in load_events(transaction_id)]


def view_status(transaction_id: str) -> str:
    return Transaction.objects.get(pk=transaction_id).status


def consume(queue_key: str) -> None:
    """Receive the visible messages of the queue once and hand each to the queue runtime."""
    client = queue_client(queue_key)
    for received in client.receive_messages(max_messages=32, messages_per_page=32, visibility_timeout=5):
        process_message(queue_key, received)
