"""Dead letters (spec Part A §5, Part B §7): the wrapper a decision writes, what its send announces, and
reading them back for the admin. (Decisions write dead letters as outbox rows, `receivers.outbox`; the
relay sends them inside the reference's span, `dead_letter_span`.)

A dead letter is a JSON wrapper on the dead-letter queue:

    {"id", "category", "transactionId", "eventCode", "sourceQueue", "error", "dequeueCount",
     "deadLetteredAt", "originalMessage"}

`originalMessage` is the received text unchanged. When the wrapper would pass the queue's 64 KiB
limit, the original travels gzip-compressed and base64-encoded in `originalMessageGzip` instead; if
even that is too large it is cut and `originalMessageTruncated` is true (the full text is then logged).
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.queue import QueueMessage as ReceivedMessage
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from opentelemetry import trace

from dispatcher_site.metrics import statsd_client
from receivers.handlers import DeadLetterCategory
from receivers.messages import event_context
from receivers.queues import DEAD_LETTER_QUEUE, MAX_MESSAGE_BYTES, MAX_VISIBILITY_SECONDS, cached_queue_client

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("receivers.dead_letters")

SERVICE_NAME = "pagopa-ecommerce-event-dispatcher-service"
SPAN_NAME = "Event written into dead letter queue"


def _encoded(wrapper: dict[str, Any]) -> str:
    return json.dumps(wrapper, separators=(",", ":"), ensure_ascii=False)


def build_wrapper(
    category: DeadLetterCategory,
    original_text: str,
    source_queue: str,
    error: str,
    dequeue_count: int,
    transaction_id: str | None = None,
    event_code: str | None = None,
) -> str:
    """The dead-letter message text, always within the queue's size limit."""
    if transaction_id is None and event_code is None:
        transaction_id, event_code = event_context(original_text)
    wrapper: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "category": str(category),
        "transactionId": transaction_id,
        "eventCode": event_code,
        "sourceQueue": source_queue,
        "error": error[:2000],
        "dequeueCount": dequeue_count,
        "deadLetteredAt": timezone.now().isoformat(),
        "originalMessage": original_text,
    }
    text = _encoded(wrapper)
    if len(text.encode()) <= MAX_MESSAGE_BYTES:
        return text
    del wrapper["originalMessage"]
    wrapper["originalMessageGzip"] = base64.b64encode(gzip.compress(original_text.encode())).decode()
    text = _encoded(wrapper)
    if len(text.encode()) <= MAX_MESSAGE_BYTES:
        return text
    logger.error("dead letter %s too large even compressed; original text follows: %s", wrapper["id"], original_text)
    del wrapper["originalMessageGzip"]
    room = MAX_MESSAGE_BYTES - len(_encoded({**wrapper, "originalMessage": "", "originalMessageTruncated": True}))
    wrapper["originalMessage"] = original_text.encode()[: room // 2].decode(errors="ignore")
    wrapper["originalMessageTruncated"] = True
    return _encoded(wrapper)


@contextmanager
def dead_letter_span(wrapper_text: str) -> Iterator[None]:
    """The reference's "Event written into dead letter queue" span around the send of a dead letter."""
    wrapper = json.loads(wrapper_text)
    attributes = {
        "deadLetterEvent.serviceName": SERVICE_NAME,
        "deadLetterEvent.category": str(wrapper.get("category") or ""),
        "deadLetterEvent.transactionId": wrapper.get("transactionId") or "N/A",
        "deadLetterEvent.transactionEventCode": wrapper.get("eventCode") or "N/A",
    }
    with tracer.start_as_current_span(SPAN_NAME, attributes=attributes):
        yield


def announce_dead_letter(wrapper_text: str) -> None:
    """Count and log a dead letter the dead-letter queue accepted."""
    wrapper = json.loads(wrapper_text)
    statsd_client().incr(f"dead_letter.{wrapper.get('category')}")
    logger.warning(
        "dead-lettered message from %s as %s (transaction %s): %s",
        wrapper.get("sourceQueue"),
        wrapper.get("category"),
        wrapper.get("transactionId") or "N/A",
        wrapper.get("error"),
    )


def _original_text(wrapper: dict[str, Any]) -> str:
    if "originalMessageGzip" in wrapper:
        return gzip.decompress(base64.b64decode(wrapper["originalMessageGzip"])).decode()
    return str(wrapper.get("originalMessage", ""))


def _is_wrapper(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("id"), str)
        and isinstance(document.get("category"), str)
        and ("originalMessage" in document or "originalMessageGzip" in document)
    )


def dead_letter_fields(text: str, message_id: str, inserted_on: datetime | None) -> dict[str, Any]:
    """The DeadLetterEvent fields of a dead-letter queue message.

    Messages without our wrapper (written by the reference service, or by hand) and damaged wrappers
    are kept too, keyed by their queue message id, with what can be read from them.
    """
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    received = inserted_on or timezone.now()
    problem = "not a dead-letter wrapper"
    if _is_wrapper(document):
        try:
            return _wrapper_fields(document, text, received)
        except (ValueError, TypeError, OSError, EOFError) as error:
            problem = f"damaged dead-letter wrapper ({error})"
    return raw_dead_letter_fields(text, message_id, received, problem)


def raw_dead_letter_fields(text: str, message_id: str, received: datetime, problem: str) -> dict[str, Any]:
    """A dead-letter queue message kept exactly as read, keyed by its queue message id."""
    transaction_id, event_code = event_context(text)
    return {
        "id": message_id,
        "transaction_id": (transaction_id or "")[:64],
        "event_code": (event_code or "")[:100],
        "dead_lettered_at": received,
        "original_message": text,
        "dead_letter_message": text,
        "error": f"{problem}: kept as read",
    }


def _dequeue_count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"dequeueCount {value!r} is not a whole number")
    return max(value, 0)


def _wrapper_fields(document: dict[str, Any], text: str, received: datetime) -> dict[str, Any]:
    try:
        category = DeadLetterCategory.from_text(document["category"]).value
    except ValueError:
        category = ""
    return {
        "id": document["id"][:64],
        "category": category,
        "source_queue": str(document.get("sourceQueue") or "")[:64],
        "transaction_id": str(document.get("transactionId") or "")[:64],
        "event_code": str(document.get("eventCode") or "")[:100],
        "error": str(document.get("error") or ""),
        "dequeue_count": _dequeue_count(document.get("dequeueCount")),
        "dead_lettered_at": parse_datetime(str(document.get("deadLetteredAt") or "")) or received,
        "original_message": _original_text(document),
        "original_message_truncated": bool(document.get("originalMessageTruncated")),
        "dead_letter_message": text,
    }


def hide_dead_letter_message(received: ReceivedMessage) -> str:
    """Hide a stored dead letter on its queue for as long as the service allows; its new pop receipt.

    It comes back after 7 days (or just before it expires), is seen to be stored, and is hidden again
    while unresolved, so the queue's depth is the number of unresolved dead letters.
    """
    visibility = MAX_VISIBILITY_SECONDS
    if received.expires_on is not None and received.expires_on.year < 9999:
        visibility = min(visibility, int((received.expires_on - timezone.now()).total_seconds()) - 1)
    if visibility < 1:
        return received.pop_receipt or ""
    updated = cached_queue_client(DEAD_LETTER_QUEUE).update_message(
        received.id, pop_receipt=received.pop_receipt, visibility_timeout=visibility
    )
    return updated.pop_receipt or ""


def delete_dead_letter_message(message_id: str, pop_receipt: str) -> bool:
    """Delete a dead letter from its queue; False when the pop receipt is stale or the message gone.

    A stale receipt means a consumer read the message again meanwhile: it will see the row is no longer
    NEW and delete it then. A queue error is logged and left to that same path.
    """
    if not message_id or not pop_receipt:
        return False
    try:
        cached_queue_client(DEAD_LETTER_QUEUE).delete_message(message_id, pop_receipt)
    except HttpResponseError as error:
        if error.status_code not in (400, 404):
            logger.warning("cannot delete dead letter message %s: %s", message_id, error)
        return False
    except AzureError as error:
        logger.warning("cannot delete dead letter message %s: %s", message_id, error)
        return False
    return True
