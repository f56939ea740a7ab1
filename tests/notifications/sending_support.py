"""Driving the send queues from tests: create notifications as the API does, let the queue runtime handle
the send queues (real Azurite, the real handlers), and look at the statistics."""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command

from notifications import delivery
from notifications.models import ApiKey, Notification, Template
from receivers.processing import process_message
from receivers.queues import queue_client
from tests.queue_support import queue_length

SEND_QUEUES = ("send-sms", "send-email")


def create(template: Template, to: str, api_key: ApiKey, **personalisation) -> Notification:
    """A notification made the way the v2 API makes it: committed with its delivery message, relayed."""
    values = {name: "x" for name in template.placeholders()} | personalisation
    return delivery.create_notification(template, to, values, api_key=api_key)


def handle_visible(queue_key: str) -> int:
    """Receive what the queue shows now and hand each message to the queue runtime; how many."""
    received = list(
        queue_client(queue_key).receive_messages(max_messages=32, messages_per_page=32, visibility_timeout=5)
    )
    for message in received:
        process_message(queue_key, message)
    return len(received)


def drain(*queue_keys: str, timeout: float = 30.0) -> None:
    """Handle the queues until they hold nothing, delayed retries included."""
    queue_keys = queue_keys or SEND_QUEUES
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(queue_length(key) == 0 for key in queue_keys):
            return
        if not sum(handle_visible(key) for key in queue_keys):
            time.sleep(0.1)
    pytest.fail(f"{queue_keys} still hold messages after {timeout} s")


def messages_on(queue_key: str) -> list[dict]:
    """The QueueEvents visible on a queue (peeked, so they stay)."""
    return [json.loads(message.content) for message in queue_client(queue_key).peek_messages(max_messages=32)]


def statistics_are_right() -> None:
    """`manage.py rebuild_statistics --check` finds no counter that differs from the notification rows."""
    call_command("rebuild_statistics", "--check")


def refreshed(notification: Notification) -> Notification:
    return Notification.objects.get(id=notification.id)
