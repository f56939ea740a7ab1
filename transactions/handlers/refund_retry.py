"""Refund retry (spec Part B §5.4), on queue refund-retry: try a failed refund again.

The transaction must be in REFUND_ERROR (else PROCESSING_ERROR); the refund runs with the event's
retryCount, so a failure schedules the next retry without a new REFUND_ERROR event.
"""

from __future__ import annotations

from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.handling import retry_count_of, store_incoming
from transactions.reduction import TransactionState
from transactions.refunds import refund_once


@queue_handler("refund-retry", accepts=[ev.TransactionRefundRetriedEvent.class_name()], parse=ev.parse_event)
def refund_retry(message: QueueMessage, outbox: Outbox) -> None:
    """Retry the refund of a transaction in REFUND_ERROR."""
    state = store_incoming(message)

    def in_refund_error(state: TransactionState) -> bool:
        if state.status is not ev.TransactionStatus.REFUND_ERROR:
            raise HandlerError(
                DeadLetterCategory.PROCESSING_ERROR,
                f"transaction {message.transaction_id} cannot retry a refund in status {state.status}",
            )
        return True

    refund_once(message, outbox, retry_count_of(message), in_refund_error, state)
