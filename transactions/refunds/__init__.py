"""Asking for a refund and performing it (spec Part B §5.9), shared by every handler that refunds.

`request_refund` appends REFUND_REQUESTED and puts the refund-queue message in the outbox (§5.9.1);
`perform_refund` calls NPG or the redirect PSP and records REFUNDED, or the error and the next retry
(§5.9.2). Both append after `state.last_sequence`: a ConcurrentAppendError means reload and decide
again (see `transactions.handling.decide_with_reloads`).
"""

from transactions.refunds.errors import REFUND_QUEUE, RefundFailed, RefundNotAllowed
from transactions.refunds.perform import perform_refund, refund_once
from transactions.refunds.request import OrderLookup, look_up_order, request_refund

__all__ = [
    "REFUND_QUEUE",
    "OrderLookup",
    "RefundFailed",
    "RefundNotAllowed",
    "look_up_order",
    "perform_refund",
    "refund_once",
    "request_refund",
]
