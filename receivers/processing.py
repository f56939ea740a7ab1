"""What happens to one received message (spec Part A §3-5, §11): parse, decide, relay, delete.

`process_message()` is the whole contract of the runtime for a single message:
0. a message whose lease ran out before a thread got to it is left alone (another consumer may hold it);
1. a redelivered message whose decision is committed (`HandledMessage`) is not handled again: the rows
   that decision left unsent are relayed and the message is deleted;
2. a message dequeued more than DEQUEUE_LIMIT times is dead-lettered as PROCESSING_ERROR;
3. a message that is not an accepted v2 QueueEvent is dead-lettered as EVENT_PARSING_ERROR;
4. the handler runs in a span whose parent is the message's traceparent; what it decides (events,
   follow-ups, dead letters, the handled mark) commits in `with outbox.decision():` (`receivers.outbox`);
5. a HandlerError raised outside a decision, or any other handler failure, dead-letters the message
   with its category (PROCESSING_ERROR for the latter) in a decision of its own;
6. the committed rows are relayed (`receivers.relay`), then the message is deleted;
7. an infrastructure error (database, Redis, queue) or `RetryLater` leaves the message for redelivery;
   the open decision is rolled back, so nothing of it is half-written.
Dead letters are outbox rows like any follow-up. Messages of the dead-letter queue are stored as
`DeadLetterEvent` rows instead (past the dequeue limit, as read, without decoding the wrapper) and stay
hidden on their queue until an operator acts.
"""

from __future__ import annotations

import enum
import logging
import time
from datetime import UTC

import redis
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.storage.queue import QueueMessage as ReceivedMessage
from django import db
from django.conf import settings
from django.utils import timezone
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from dispatcher_site.metrics import statsd_client
from receivers.dead_letters import (
    dead_letter_fields,
    delete_dead_letter_message,
    hide_dead_letter_message,
    raw_dead_letter_fields,
)
from receivers.handlers import HANDLERS, DeadLetterCategory, EventParsingError, HandlerError, QueueMessage, RetryLater
from receivers.messages import parse_queue_message
from receivers.models import DeadLetterEvent
from receivers.outbox import AlreadyHandled, MessageSource, Outbox, was_handled
from receivers.queues import DEAD_LETTER_QUEUE, QUEUES, cached_queue_client
from receivers.relay import relay_rows, relay_rows_left_by

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("receivers.processing")

# Failures of what the runtime stands on: the message stays on its queue and comes back after its lease.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    db.OperationalError,
    db.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    AzureError,
)
# What leaves a message for redelivery: the above, and a handler saying "not now".
REDELIVERY_ERRORS: tuple[type[BaseException], ...] = (*INFRASTRUCTURE_ERRORS, RetryLater)


class Outcome(enum.StrEnum):
    PROCESSED = "processed"
    DEAD_LETTERED = "dead_lettered"
    RETRIED = "retried"  # left on the queue for redelivery


def process_message(queue_key: str, received: ReceivedMessage) -> Outcome:
    """Handle one message and delete it once its work is done; never raises for the message's sake."""
    stats = statsd_client()
    if lease_expired(received):
        logger.warning("message %s of %s left alone: its lease ran out before it was handled", received.id, queue_key)
        stats.incr(f"queue.{queue_key}.{Outcome.RETRIED}")
        return Outcome.RETRIED
    if received.inserted_on is not None:
        stats.timing_with_dates(f"queue.{queue_key}.wait", timezone.now(), received.inserted_on)
    try:
        if queue_key == DEAD_LETTER_QUEUE:
            outcome = _store_dead_letter(received)
        else:
            outcome, outbox = decide_message(queue_key, received)
            relay_rows(outbox.committed_row_ids)
            _delete(queue_key, received)
    except REDELIVERY_ERRORS as error:
        logger.warning(
            "message %s of %s left for redelivery: %s: %s", received.id, queue_key, type(error).__name__, error
        )
        drop_failed_connection(error)
        outcome = Outcome.RETRIED
    except Exception as error:
        # A fault of the runtime itself (handler failures are dead-lettered before this). The message
        # comes back after its lease, and the dequeue limit keeps it from looping for ever.
        logger.exception("message %s of %s left for redelivery after an unexpected error", received.id, queue_key)
        drop_failed_connection(error)
        outcome = Outcome.RETRIED
    stats.incr(f"queue.{queue_key}.{outcome}")
    return outcome


def drop_failed_connection(error: BaseException) -> None:
    """After a database failure, close this thread's connection: the next message opens a new one.

    Handler threads keep their connection between messages and do not check it before each one (a
    `SELECT 1` per message); a broken connection shows up as an error, and is replaced then.
    """
    if isinstance(error, (db.DatabaseError, db.InterfaceError)):
        db.connection.close()


def message_source(queue_key: str, received: ReceivedMessage) -> MessageSource:
    return MessageSource(queue_key, received.id, received.content or "", received.dequeue_count or 1)


def lease_expired(received: ReceivedMessage) -> bool:
    """Whether the message is visible again, so that another consumer may be handling it."""
    visible_on = received.next_visible_on
    if visible_on is None:
        return False
    if visible_on.tzinfo is None:
        visible_on = visible_on.replace(tzinfo=UTC)
    return visible_on <= timezone.now()


def _delete(queue_key: str, received: ReceivedMessage) -> None:
    try:
        cached_queue_client(queue_key).delete_message(received)
    except (ResourceNotFoundError, HttpResponseError) as error:
        if getattr(error, "status_code", None) not in (400, 404):
            raise
        # The lease ran out and another consumer holds the message now: our work is done, its is a repeat.
        logger.warning("message %s of %s was handled after its lease ran out", received.id, queue_key)


def _store_dead_letter(received: ReceivedMessage) -> Outcome:
    """Store the dead letter once, then keep the message hidden on its queue while the row is unresolved
    (the queue stays the durable hand-off, spec Part A §5) or delete it once an operator has acted."""
    row = DeadLetterEvent.objects.filter(queue_message_id=received.id).first()
    if row is None:
        row = _stored_row(received)
    if row.queue_message_id != received.id:
        # Another copy of a dead letter already stored from a different message: one is enough.
        delete_dead_letter_message(received.id, received.pop_receipt)
    elif row.unresolved:
        pop_receipt = hide_dead_letter_message(received)
        DeadLetterEvent.objects.filter(pk=row.pk).update(pop_receipt=pop_receipt)
    else:
        delete_dead_letter_message(received.id, received.pop_receipt)
    return Outcome.PROCESSED


def _stored_row(received: ReceivedMessage) -> DeadLetterEvent:
    text = received.content or ""
    dequeue_count = received.dequeue_count or 1
    limit = settings.DISPATCHER.DEQUEUE_LIMIT
    if dequeue_count > limit:
        # Storing it failed that often: keep it as read, the form with the fewest ways to fail.
        problem = f"unreadable wrapper: dequeued {dequeue_count} times (limit {limit})"
        fields = raw_dead_letter_fields(text, received.id, received.inserted_on or timezone.now(), problem)
    else:
        fields = dead_letter_fields(text, received.id, received.inserted_on)
    row, created = DeadLetterEvent.store({**fields, "queue_message_id": received.id})
    if not created:
        logger.info("dead letter %s was already stored", fields["id"])
        if not row.queue_message_id:
            # Stored before rows kept their message: this message is now the row's.
            DeadLetterEvent.objects.filter(pk=row.pk, queue_message_id="").update(queue_message_id=received.id)
            row.refresh_from_db()
    return row


def decide_message(queue_key: str, received: ReceivedMessage) -> tuple[Outcome, Outbox]:
    """Steps 1-5: everything up to the relay (what a consumer has done if it dies right after its commit)."""
    outbox = Outbox(message_source(queue_key, received))
    return _decide(queue_key, received, outbox), outbox


def _decide(queue_key: str, received: ReceivedMessage, outbox: Outbox) -> Outcome:
    text = received.content or ""
    dequeue_count = received.dequeue_count or 1
    if dequeue_count > 1 and was_handled(received.id):
        logger.info("message %s of %s was handled before: relaying what it left, deleting it", received.id, queue_key)
        relay_rows_left_by(received.id)
        return Outcome.PROCESSED
    limit = settings.DISPATCHER.DEQUEUE_LIMIT
    if dequeue_count > limit:
        _dead_letter(outbox, DeadLetterCategory.PROCESSING_ERROR, f"dequeued {dequeue_count} times (limit {limit})")
        return Outcome.DEAD_LETTERED
    registration = HANDLERS[queue_key]
    try:
        message = parse_queue_message(registration, text, dequeue_count, received.inserted_on)
    except EventParsingError as error:
        _dead_letter(outbox, error.category, str(error))
        return Outcome.DEAD_LETTERED
    parent = propagate.extract({key: value for key, value in message.tracing_info.items() if value})
    attributes = {
        "messaging.system": "azure_storage_queue",
        "messaging.destination.name": QUEUES[queue_key].name,
        "messaging.message.id": received.id,
    }
    with tracer.start_as_current_span(registration.name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes):
        return _run_handler(queue_key, registration.handle, message, outbox)


def _run_handler(queue_key: str, handle, message: QueueMessage, outbox: Outbox) -> Outcome:
    started = time.monotonic()
    try:
        handle(message, outbox)
    except AlreadyHandled:
        logger.info("message of transaction %s was handled meanwhile by another consumer", message.transaction_id)
        return Outcome.PROCESSED
    except REDELIVERY_ERRORS:
        raise
    except HandlerError as error:
        if not error.recorded:
            _dead_letter(outbox, error.category, str(error))
        return Outcome.DEAD_LETTERED
    except Exception as error:
        logger.exception("handler of %s failed on message of transaction %s", queue_key, message.transaction_id)
        _dead_letter(outbox, DeadLetterCategory.PROCESSING_ERROR, f"{type(error).__name__}: {error}")
        return Outcome.DEAD_LETTERED
    finally:
        statsd_client().timing(f"queue.{queue_key}.handler", (time.monotonic() - started) * 1000)
    return Outcome.PROCESSED


def _dead_letter(outbox: Outbox, category: DeadLetterCategory, error: str) -> None:
    """Dead-letter the message in a decision of its own (it also marks the message handled)."""
    with outbox.decision():
        outbox.dead_letter_current_message(category, error)
