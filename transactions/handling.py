"""The steps every transactions queue handler shares (spec Part A §2-3, §11).

    def handle(message, outbox):
        state = store_incoming(message)                # stored if new; the state, read once
        ...                                            # guards, then the call to Nodo or a gateway
        decide_with_reloads(message.transaction_id, outbox, lambda fresh: ..., state=state)

`decide_with_reloads` loads the state and runs the decision inside `outbox.decision()`: the events it
appends, the follow-ups and dead letters it writes, and the mark that the message is handled commit
together, or not at all. When an append raises `ConcurrentAppendError` (another consumer appended
first), that attempt is rolled back and the decision runs again on the reloaded state, a bounded number
of times. A decision never calls an external service: whatever it needs from one is fetched before.

A message redelivered after its decision committed never reaches its handler again (the runtime finds
its handled mark), and the rows the decision wrote are relayed by the runtime or by any consumer's
relay sweep; so handlers need no recovery code of their own. A copy of an event sent again (a
different queue message) meets the status guards of Part B.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage
from receivers.outbox import Outbox
from transactions.reduction import TransactionState
from transactions.store import (
    ConcurrentAppendError,
    EventConflictError,
    EventOrderError,
    load_state,
    receive_event,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
DECISION_ATTEMPTS = 5


def store_incoming(message: QueueMessage) -> TransactionState:
    """Store the message's event if the store does not have it yet (idempotent by event id); the
    transaction's state, read once.

    An event of an unknown transaction (nothing stored and not ACTIVATED) or one whose id is stored
    with other content cannot be handled: PROCESSING_ERROR. An event older than the last stored one
    (e.g. a batch EXPIRED event that a closure overtook) is not stored; the handler then decides on
    what the store holds, as the reference always does.
    """
    event = message.event
    try:
        return receive_event(event)
    except EventConflictError as error:
        raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, str(error)) from error
    except EventOrderError as error:
        state = load_state(event.transaction_id)
        if not state.events:
            raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, str(error)) from error
        logger.warning("event %s of transaction %s not stored: %s", event.id, event.transaction_id, error)
        return state


def decide_with_reloads(
    transaction_id: str,
    outbox: Outbox,
    decide: Callable[[TransactionState], T],
    attempts: int = DECISION_ATTEMPTS,
    state: TransactionState | None = None,
) -> T:
    """Run `decide(load_state(transaction_id))` in `outbox.decision()`, again on a fresh state after each
    ConcurrentAppendError (the interrupted attempt is rolled back, rows included).

    A `state` read just before may be given for the first attempt: an append on it conflicts if it is
    stale, and the decision is then taken again on a reloaded one. After `attempts` conflicts the last
    ConcurrentAppendError propagates (a RetryLater: the message is redelivered).
    """
    for attempt in range(1, attempts + 1):
        if state is None or attempt > 1:
            state = load_state(transaction_id)
        try:
            with outbox.decision():
                return decide(state)
        except ConcurrentAppendError:
            if attempt == attempts:
                raise
            logger.info("transaction %s changed while deciding (attempt %d): deciding again", transaction_id, attempt)
    raise AssertionError("unreachable")


def retry_count_of(message: QueueMessage) -> int:
    """The retryCount a retry event carries (null counts as 0); 0 for any other event."""
    data = message.event.data
    return getattr(data, "retry_count", None) or 0
