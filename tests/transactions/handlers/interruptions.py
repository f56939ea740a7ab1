"""A consumer that dies between committing its events and sending its outbox.

`handle_and_lose_outbox` runs a queue's handler on a message exactly as the runtime does (same
parsing, same handler, real commits), then drops what the handler put in its outbox instead of
sending it, and drops a dead letter it raised instead of writing it: what a crash right after the
handler's last commit leaves behind. The test then delivers the same message again.
"""

from __future__ import annotations

from dataclasses import dataclass

from receivers.handlers import HANDLERS, HandlerError, Outbox, serialize_queue_event
from receivers.messages import parse_queue_message
from tests.transactions.handlers.builders import TRACING


@dataclass(frozen=True)
class Lost:
    """What the dead consumer never sent: its outbox, and the HandlerError it would have dead-lettered."""

    outbox: Outbox
    error: HandlerError | None

    @property
    def queue_keys(self) -> list[str]:
        return [message.queue_key for message in self.outbox.messages]


def handle_and_lose_outbox(queue_key: str, event: dict, tracing_info: dict = TRACING) -> Lost:
    registration = HANDLERS[queue_key]
    message = parse_queue_message(registration, serialize_queue_event(event, tracing_info))
    outbox = Outbox()
    try:
        registration.handle(message, outbox)
    except HandlerError as error:
        return Lost(outbox, error)
    return Lost(outbox, None)
