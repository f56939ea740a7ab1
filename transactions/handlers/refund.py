"""Refund (spec Part B §5.3), on queue refund: perform a requested refund.

The retry count of an incoming REFUND_RETRIED event is ignored (always 0 here), as the reference
does (spec Part A §7): a failure therefore records REFUND_ERROR and schedules retry number 1.
Any other status (the refund is done, or failed and is being retried) needs nothing: a copy of the
message meets that guard.
"""

from __future__ import annotations

import logging

from receivers.handlers import QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.handling import store_incoming
from transactions.reduction import TransactionState
from transactions.refunds import refund_once

logger = logging.getLogger(__name__)


@queue_handler(
    "refund",
    accepts=[ev.TransactionRefundRequestedEvent.class_name(), ev.TransactionRefundRetriedEvent.class_name()],
    parse=ev.parse_event,
)
def refund(message: QueueMessage, outbox: Outbox) -> None:
    """Refund a transaction in REFUND_REQUESTED; any other status needs no refund."""
    state = store_incoming(message)
    refund_once(message, outbox, 0, _in_refund_requested, state)


def _in_refund_requested(state: TransactionState) -> bool:
    if state.status is not ev.TransactionStatus.REFUND_REQUESTED:
        logger.info("transaction %s in status %s: no refund needed", state.transaction_id, state.status)
        return False
    return True
