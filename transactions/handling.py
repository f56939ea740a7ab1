"""The steps every transactions queue handler shares (spec Part A §2-3).

    def handle(message, outbox):
        store_incoming(message)                        # the event may not be in the store yet
        decide_with_reloads(message.transaction_id, outbox, lambda state: ...)

`decide_with_reloads` loads the state and calls the decision; when an append inside it raises
`ConcurrentAppendError` (another consumer appended first), the messages the attempt put in the outbox
are taken back and the decision runs again on the reloaded state, a bounded number of times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from receivers.handlers import DeadLetterCategory, HandlerError, Outbox, QueueMessage
from transactions.models import TransactionEvent
from transactions.reduction import TransactionState
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
