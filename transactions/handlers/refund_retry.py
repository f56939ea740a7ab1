"""Refund retry (spec Part B §5.4), on queue refund-retry: try a failed refund again.

The transaction must be in REFUND_ERROR (else PROCESSING_ERROR); the refund runs with the event's
retryCount, so a failure schedules the next retry without a new REFUND_ERROR event. A message
that comes back after its attempt was stored (a redelivery, or a copy sent again by a handler that
could not know whether its first send happened) finishes that attempt's follow-ups instead
(`transactions.refunds.refund_once`): no second gateway call, no dead letter for a refund it
already recorded.
"""

from __future__ import annotations

from receivers.handlers import DeadLetterCategory, HandlerError, Outbox, QueueMessage, queue_handler
from transactions import events as ev
from transactions.handling import retry_count_of, store_incoming
from transactions.reduction import TransactionState
from transactions.refunds import refund_once


@queue_handler("refund-retry", accepts=[ev.TransactionRefundRetriedEvent.class_name()], parse=ev.parse_event)
def refund_retry(message: QueueMessage, outbox: Outbox) -> None:
    """Retry the refund of a transaction in REFUND_ERROR."""
    store_incoming(message)

    def in_refund_error(state: TransactionState) -> bool:
        if state.status is not ev.TransactionStatus.REFUND_ERROR:
            raise HandlerError(
                DeadLetterCategory.PROCESSING_ERROR,
                f"transaction {message.transaction_id} cannot retry a refund in status {state.status}",
            )
        return True

    refund_once(message, outbox, retry_count_of(message), in_refund_error)
