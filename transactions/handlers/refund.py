"""Refund (spec Part B §5.3), on queue refund: perform a requested refund.

The retry count of an incoming REFUND_RETRIED event is ignored (always 0 here), as the reference
does (spec Part A §7): a failure therefore records REFUND_ERROR and schedules retry number 1.
A message that comes back after its attempt was stored finishes that attempt's follow-ups
(`finish_refund_attempt`) without calling the gateway again.
"""

from __future__ import annotations

import logging

from receivers.handlers import Outbox, QueueMessage, queue_handler
from transactions import events as ev
from transactions.handling import decide_with_reloads, events_after_incoming, store_incoming
from transactions.reduction import TransactionState
from transactions.refunds import finish_refund_attempt, perform_refund

logger = logging.getLogger(__name__)


@queue_handler(
    "refund",
    accepts=[ev.TransactionRefundRequestedEvent.class_name(), ev.TransactionRefundRetriedEvent.class_name()],
    parse=ev.parse_event,
)
def refund(message: QueueMessage, outbox: Outbox) -> None:
    """Refund a transaction in REFUND_REQUESTED; any other status needs no refund."""
    store_incoming(message)

    def decide(state: TransactionState) -> None:
        after = events_after_incoming(state, message) or ()
        if finish_refund_attempt(state, after, 0, outbox, message.tracing_info):
            return
        if state.status is not ev.TransactionStatus.REFUND_REQUESTED:
            logger.info("transaction %s in status %s: no refund needed", message.transaction_id, state.status)
            return
        perform_refund(state, 0, outbox, message.tracing_info)

    decide_with_reloads(message.transaction_id, outbox, decide)
