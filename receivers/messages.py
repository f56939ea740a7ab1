"""Turning a received queue message into a `QueueMessage`, or refusing it (spec Part A §4).

Only the v2 QueueEvent is accepted: `{"event": {...}, "tracingInfo": {...}}` with no other keys, an
event object carrying `_class`, `id`, `transactionId`, `creationDate`, `data` and `eventCode`, and a
tracing object with a string `traceparent`. The text may be plain or base64 (other SDKs encode by
default). Anything else raises `EventParsingError`, which the runtime dead-letters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from receivers.handlers import EventParsingError, HandlerRegistration, QueueMessage

EVENT_KEYS = frozenset({"_class", "id", "transactionId", "creationDate", "data", "eventCode"})
TRACING_REQUIRED_KEYS = frozenset({"traceparent"})
TRACING_OPTIONAL_KEYS = frozenset({"tracestate", "baggage"})


def decode_text(text: str) -> str:
    """The message text itself, or what it encodes when it is base64 of a JSON object."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return text
    try:
        decoded = base64.b64decode(stripped, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return text
    return decoded if decoded.lstrip().startswith("{") else text


def _load_object(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise EventParsingError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise EventParsingError("not a JSON object")
    return document


def _check_keys(name: str, document: Mapping[str, Any], required: frozenset[str], optional=frozenset()) -> None:
    missing = sorted(required - document.keys())
    unknown = sorted(document.keys() - required - optional)
    if missing:
        raise EventParsingError(f"{name} lacks {', '.join(missing)}")
    if unknown:
        raise EventParsingError(f"{name} has unknown properties {', '.join(unknown)}")


def _check_event(event: Any) -> None:
    if not isinstance(event, dict):
        raise EventParsingError("event is not an object")
    if "_class" not in event and "eventCode" in event:
        raise EventParsingError("a v1 event (no _class): only v2 events are accepted")
    _check_keys("event", event, EVENT_KEYS)
    for key in ("_class", "id", "transactionId", "creationDate", "eventCode"):
        if not isinstance(event[key], str) or not event[key]:
            raise EventParsingError(f"event.{key} must be a non-empty string")
    if event["data"] is not None and not isinstance(event["data"], dict):
        raise EventParsingError("event.data must be an object or null")


def _check_tracing_info(tracing_info: Any) -> None:
    if not isinstance(tracing_info, dict):
        raise EventParsingError("tracingInfo is not an object")
    _check_keys("tracingInfo", tracing_info, TRACING_REQUIRED_KEYS, TRACING_OPTIONAL_KEYS)
    if not isinstance(tracing_info["traceparent"], str):
        raise EventParsingError("tracingInfo.traceparent must be a string")
    for key in TRACING_OPTIONAL_KEYS & tracing_info.keys():
        if tracing_info[key] is not None and not isinstance(tracing_info[key], str):
            raise EventParsingError(f"tracingInfo.{key} must be a string or null")


def accepts_class(registration: HandlerRegistration, event_class: str) -> bool:
    # Exact full names only: a v1 class with the same short name as an accepted v2 class is refused.
    return event_class in registration.accepts


def parse_queue_message(
    registration: HandlerRegistration,
    text: str,
    dequeue_count: int = 1,
    inserted_on: datetime | None = None,
) -> QueueMessage:
    """The QueueMessage for this text, or `EventParsingError` saying why it is refused."""
    if not text or not text.strip():
        raise EventParsingError("empty message")
    text = decode_text(text)
    document = _load_object(text)
    if "event" not in document and ("_class" in document or "eventCode" in document):
        raise EventParsingError("a bare event without the QueueEvent wrapper")
    _check_keys("QueueEvent", document, frozenset({"event", "tracingInfo"}))
    _check_event(document["event"])
    _check_tracing_info(document["tracingInfo"])
    raw_event = document["event"]
    if not accepts_class(registration, raw_event["_class"]):
        raise EventParsingError(f"{raw_event['_class']} is not accepted on queue {registration.queue_key}")
    event = raw_event
    if registration.parse is not None:
        try:
            event = registration.parse(raw_event)
        except EventParsingError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            raise EventParsingError(f"{raw_event['_class']} does not parse: {error}") from None
    return QueueMessage(
        queue_key=registration.queue_key,
        text=text,
        event=event,
        raw_event=raw_event,
        tracing_info=document["tracingInfo"],
        dequeue_count=dequeue_count,
        inserted_on=inserted_on,
    )


def event_context(text: str) -> tuple[str | None, str | None]:
    """Best-effort (transactionId, eventCode) of any message text, for dead-letter context."""
    try:
        document = json.loads(decode_text(text))
    except ValueError:
        return None, None
    if not isinstance(document, dict):
        return None, None
    event = document.get("event", document)
    if not isinstance(event, dict):
        return None, None
    transaction_id, event_code = event.get("transactionId"), event.get("eventCode")
    return (
        transaction_id if isinstance(transaction_id, str) else None,
        event_code if isinstance(event_code, str) else None,
    )
