"""What a queue handler is, and the one small API it gets to talk to queues.

A handler is a function `handle(message: QueueMessage, outbox: Outbox) -> None` registered for one
queue with the event classes it accepts:

    @queue_handler("close-payment", accepts=[CLOSURE_REQUESTED_CLASS, USER_CANCELED_CLASS], parse=parse_event)
    def close_payment(message, outbox): ...

The runtime (`manage.py consume_queue`) parses the message, calls `parse` on the event object (a
`ValueError` or `EventParsingError` dead-letters it as EVENT_PARSING_ERROR), runs the handler, then
sends what the handler put in its outbox and only then deletes the message. Handlers return normally
for success and for "nothing to do"; they raise `HandlerError(category, ...)` to dead-letter the
message with a category, raise `RetryLater` when the message cannot be handled now (e.g. another
writer appended to the transaction first), and let infrastructure errors (database, Redis, queue
unreachable) propagate: in both cases the message is redelivered, at most DEQUEUE_LIMIT times. On any
error the outbox is discarded.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from receivers.queues import MAX_MESSAGE_BYTES, MAX_VISIBILITY_SECONDS, QUEUES, time_to_live


class DeadLetterCategory(enum.StrEnum):
    EVENT_PARSING_ERROR = "EVENT_PARSING_ERROR"
    PROCESSING_ERROR = "PROCESSING_ERROR"
    RETRY_EVENT_NO_ATTEMPTS_LEFT = "RETRY_EVENT_NO_ATTEMPTS_LEFT"
    REFUND_MANUAL_CHECK_REQUIRED = "REFUND_MANUAL_CHECK_REQUIRED"
    SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT = "SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT"

    @classmethod
    def from_text(cls, text: str) -> DeadLetterCategory:
        # The reference README spells it ..._NO_ATTEMPT_LEFT; its code (and we) emit ..._NO_ATTEMPTS_LEFT.
        return cls("RETRY_EVENT_NO_ATTEMPTS_LEFT" if text == "RETRY_EVENT_NO_ATTEMPT_LEFT" else text)


class HandlerError(Exception):
    """The message cannot be handled: dead-letter it with this category."""

    def __init__(self, category: DeadLetterCategory, message: str):
        self.category = DeadLetterCategory(category)
        super().__init__(message)


class RetryLater(Exception):
    """The message could not be handled now; leave it for redelivery, do not dead-letter it."""


class EventParsingError(HandlerError):
    def __init__(self, message: str):
        super().__init__(DeadLetterCategory.EVENT_PARSING_ERROR, message)


@dataclass(frozen=True)
class QueueMessage:
    """One received message. `text` is the original message text (base64 already decoded)."""

    queue_key: str
    text: str
    event: Any  # what the handler's `parse` returned for the "event" object (the raw dict without `parse`)
    raw_event: Mapping[str, Any]
    tracing_info: Mapping[str, Any]
    dequeue_count: int = 1
    inserted_on: datetime | None = None

    @property
    def event_class(self) -> str:
        return self.raw_event.get("_class", "")

    @property
    def transaction_id(self) -> str | None:
        return self.raw_event.get("transactionId")

    @property
    def event_code(self) -> str | None:
        return self.raw_event.get("eventCode")


@dataclass(frozen=True)
class OutgoingMessage:
    queue_key: str
    text: str
    visibility_seconds: int = 0


@dataclass(frozen=True)
class OutgoingDeadLetter:
    category: DeadLetterCategory
    error: str


@dataclass
class Outbox:
    """Messages a handler wants sent; the runtime sends them after the handler has returned."""

    messages: list[OutgoingMessage] = field(default_factory=list)
    dead_letters: list[OutgoingDeadLetter] = field(default_factory=list)

    def send(
        self,
        queue_key: str,
        event: Mapping[str, Any],
        tracing_info: Mapping[str, Any],
        visibility_seconds: int = 0,
    ) -> None:
        """Send a v2 QueueEvent to a queue, visible after `visibility_seconds`, with the transient TTL.

        An unknown queue, a message over the queue's 64 KiB limit, or a visibility delay over 7 days or
        not shorter than the queue's TTL is a programming error: it raises ValueError here, inside the
        handler, so the message is dead-lettered as PROCESSING_ERROR (the queue service would refuse it).
        """
        if queue_key not in QUEUES:
            raise ValueError(f"no queue {queue_key!r}")
        visibility_seconds = max(0, int(visibility_seconds))
        ttl = time_to_live(queue_key)
        if visibility_seconds > MAX_VISIBILITY_SECONDS or (ttl != -1 and visibility_seconds >= ttl):
            raise ValueError(
                f"visibility of {visibility_seconds} s for {queue_key} is over {MAX_VISIBILITY_SECONDS} s "
                f"or not shorter than the queue's TTL ({ttl} s)"
            )
        text = serialize_queue_event(event, tracing_info)
        if len(text.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError(f"message for {queue_key} is larger than {MAX_MESSAGE_BYTES} bytes")
        self.messages.append(OutgoingMessage(queue_key, text, visibility_seconds))

    def dead_letter_current_message(self, category: DeadLetterCategory, error: str) -> None:
        """Dead-letter the message being handled while the handler carries on (spec: explicit DLQ writes)."""
        self.dead_letters.append(OutgoingDeadLetter(DeadLetterCategory(category), error))


def serialize_queue_event(event: Mapping[str, Any], tracing_info: Mapping[str, Any]) -> str:
    return json.dumps({"event": event, "tracingInfo": tracing_info}, separators=(",", ":"), ensure_ascii=False)


Handler = Callable[[QueueMessage, Outbox], None]
EventParser = Callable[[Mapping[str, Any]], Any]


# The package of the reference's v2 events: a short class name in `accepts` means a class of it.
V2_EVENT_PACKAGE = "it.pagopa.ecommerce.commons.documents.v2."


def qualified_class_name(name: str) -> str:
    return name if "." in name else V2_EVENT_PACKAGE + name


@dataclass(frozen=True)
class HandlerRegistration:
    """A queue's handler; `accepts` holds full class names (short ones are expanded to the v2 package)."""

    queue_key: str
    accepts: frozenset[str]
    handle: Handler
    parse: EventParser | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepts", frozenset(qualified_class_name(name) for name in self.accepts))

    @property
    def name(self) -> str:
        return self.handle.__name__


HANDLERS: dict[str, HandlerRegistration] = {}


def queue_handler(queue_key: str, accepts: Iterable[str], parse: EventParser | None = None):
    """Register the decorated function as the handler of `queue_key` (one handler per queue)."""

    def register(handle: Handler) -> Handler:
        if queue_key in HANDLERS:
            raise ValueError(f"queue {queue_key} already has handler {HANDLERS[queue_key].name}")
        HANDLERS[queue_key] = HandlerRegistration(queue_key, frozenset(accepts), handle, parse)
        return handle

    return register
