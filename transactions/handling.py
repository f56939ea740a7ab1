"""The steps every transactions queue handler shares (spec Part A §2-3).

    def handle(message, outbox):
        store_incoming(message)                        # the event may not be in the store yet
        decide_with_reloads(message.transaction_id, outbox, lambda state: ...)

`decide_with_reloads` loads the state and calls the decision; when an append inside it raises
`ConcurrentAppendError` (another consumer appended first), the messages the attempt put in the outbox
are taken back and the decision runs again on the reloaded state, a bounded number of times.

A message can come back after its handling committed events but before the outbox was sent (the
consumer died in between). `events_after_incoming` tells a handler what is already stored after the
message's own event, so it finishes the follow-ups of that stored answer (`resend_stored_event`,
`resend_retry_event`) instead of calling Nodo or a gateway again or writing a second copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from receivers.handlers import DeadLetterCategory, HandlerError, Outbox, QueueMessage
from transactions import events as ev
from transactions.models import TransactionEvent
from transactions.reduction import TransactionState
from transactions.retry import RetryKind, retry_policy, retry_visibility_seconds
from transactions.store import (
    ConcurrentAppendError,
    EventConflictError,
    EventOrderError,
    load_state,
    store_incoming_event,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
DECISION_ATTEMPTS = 5


def store_incoming(message: QueueMessage) -> None:
    """Store the message's event if the store does not have it yet (idempotent by event id).

    An event of an unknown transaction (nothing stored and not ACTIVATED) or one whose id is stored
    with other content cannot be handled: PROCESSING_ERROR. An event older than the last stored one
    (e.g. a batch EXPIRED event that a closure overtook) is not stored; the handler then decides on
    what the store holds, as the reference always does.
    """
    event = message.event
    try:
        store_incoming_event(event)
    except EventConflictError as error:
        raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, str(error)) from error
    except EventOrderError as error:
        if not TransactionEvent.objects.filter(transaction_id=event.transaction_id).exists():
            raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, str(error)) from error
        logger.warning("event %s of transaction %s not stored: %s", event.id, event.transaction_id, error)


def decide_with_reloads(
    transaction_id: str,
    outbox: Outbox,
    decide: Callable[[TransactionState], T],
    attempts: int = DECISION_ATTEMPTS,
) -> T:
    """Run `decide(load_state(transaction_id))`, again on a fresh state after each ConcurrentAppendError.

    What an interrupted attempt put in the outbox is discarded before the next one; after `attempts`
    conflicts the last ConcurrentAppendError propagates (the runtime dead-letters the message).
    """
    for attempt in range(1, attempts + 1):
        marks = (len(outbox.messages), len(outbox.dead_letters))
        try:
            return decide(load_state(transaction_id))
        except ConcurrentAppendError:
            del outbox.messages[marks[0] :]
            del outbox.dead_letters[marks[1] :]
            if attempt == attempts:
                raise
            logger.info("transaction %s changed while deciding (attempt %d): deciding again", transaction_id, attempt)
    raise AssertionError("unreachable")


def retry_count_of(message: QueueMessage) -> int:
    """The retryCount a retry event carries (null counts as 0); 0 for any other event."""
    data = message.event.data
    return getattr(data, "retry_count", None) or 0


def events_after_incoming(state: TransactionState, message: QueueMessage) -> tuple[ev.TransactionEvent, ...] | None:
    """The events stored after the message's own event: what handling it (or a later message) recorded.

    None when the message's event is not in the store (an old batch event that was not stored).
    """
    for index, event in enumerate(state.events):
        if event.id == message.event.id:
            return state.events[index + 1 :]
    return None


def first_of(
    events: Sequence[ev.TransactionEvent], codes: Collection[ev.EventCode]
) -> tuple[ev.TransactionEvent, tuple[ev.TransactionEvent, ...]] | None:
    """The first event with one of `codes`, and the events after it; None when there is none."""
    for index, event in enumerate(events):
        if event.event_code in codes:
            return event, tuple(events[index + 1 :])
    return None


def resend_stored_event(
    outbox: Outbox,
    queue_key: str,
    event: ev.TransactionEvent,
    tracing_info: Mapping[str, Any],
    visibility_seconds: int = 0,
) -> None:
    """Send an event that is already stored (same id) again: its first message may have been lost.

    Only for queues whose consumer is idempotent for a copy of the event (see the handlers).
    """
    logger.info("transaction %s: sending stored event %s to %s again", event.transaction_id, event.id, queue_key)
    outbox.send(queue_key, event.to_json_dict(), tracing_info, visibility_seconds)


def resend_retry_event(
    kind: RetryKind, event: ev.TransactionEvent, outbox: Outbox, tracing_info: Mapping[str, Any]
) -> None:
    """Send a stored retry event to its retry queue again, with the visibility of its attempt."""
    policy = retry_policy(kind)
    visibility = retry_visibility_seconds(policy.base_interval_seconds, event.data.retry_count)
    resend_stored_event(outbox, policy.queue_key, event, tracing_info, visibility)
