"""Looking at Azurite queues from tests: send a QueueEvent, peek what is visible, count what is hidden."""

from __future__ import annotations

import json
import time

from receivers.handlers import serialize_queue_event
from receivers.queues import queue_client


def send_event(queue_key: str, event, tracing_info: dict) -> None:
    """Put a QueueEvent on the queue; `event` is a typed event or its JSON dict."""
    document = event.to_json_dict() if hasattr(event, "to_json_dict") else event
    queue_client(queue_key).send_message(serialize_queue_event(document, tracing_info))


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
    """The requests a loopback stand-in received under a path prefix."""
    return [request for request, _ in httpserver.log if request.path.startswith(prefix)]


def committed_rows(outbox) -> list:
    """The OutboxMessage rows an outbox's committed decisions wrote, in the order they were written."""
    from receivers.models import OutboxMessage

    rows = OutboxMessage.objects.in_bulk(outbox.committed_row_ids)
    return [rows[row_id] for row_id in outbox.committed_row_ids]


def committed_messages(outbox) -> list:
    """The follow-up messages (not dead letters) among `committed_rows(outbox)`."""
    return [row for row in committed_rows(outbox) if not row.is_dead_letter]
