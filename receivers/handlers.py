"""What a queue handler is, and the one small API it gets to talk to queues.

A handler is a function `handle(message: QueueMessage, outbox: Outbox) -> None` registered for one
queue with the event classes it accepts:

    @queue_handler("close-payment", accepts=[CLOSURE_REQUESTED_CLASS, USER_CANCELED_CLASS], parse=parse_event)
    def close_payment(message, outbox): ...

The runtime (`manage.py consume_queue`) parses the message, calls `parse` on the event object (a
`ValueError` or `EventParsingError` dead-letters it as EVENT_PARSING_ERROR) and runs the handler. A
handler writes what it decides inside `with outbox.decision():` (`receivers.outbox`): its events, the
follow-up messages and dead letters, and the mark that this message is handled, in one database
transaction. The runtime relays the committed rows to their queues and only then deletes the message;
a redelivered message whose decision is committed is not handled again. Handlers return normally for
success and for "nothing to do"; they raise `HandlerError(category, ...)` to dead-letter the message
with a category, raise `RetryLater` when the message cannot be handled now (e.g. another writer
appended to the transaction first), and let infrastructure errors (database, Redis, queue unreachable)
propagate: in both cases the message is redelivered, at most DEQUEUE_LIMIT times, and the decision
that was open is rolled back.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from receivers.outbox import Outbox


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
        # Set once the dead letter is written in the outbox of the decision that raised it.
        self.recorded = False
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


def serialize_queue_event(event: Mapping[str, Any], tracing_info: Mapping[str, Any]) -> str:
    return json.dumps({"event": event, "tracingInfo": tracing_info}, separators=(",", ":"), ensure_ascii=False)


Handler = Callable[[QueueMessage, "Outbox"], None]
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
