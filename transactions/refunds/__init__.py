"""Asking for a refund and performing it (spec Part B §5.9), shared by every handler that refunds.

`request_refund` appends REFUND_REQUESTED and puts the refund-queue message in the outbox (§5.9.1);
`perform_refund` calls NPG or the redirect PSP and records REFUNDED, or the error and the next retry
(§5.9.2). Both append after `state.last_sequence`: a ConcurrentAppendError means reload and decide
again (see `transactions.handling.decide_with_reloads`). `finish_refund_attempt` is what a refund or
refund-retry message does when it comes back after the outcome of its attempt was stored.
"""

from transactions.refunds.errors import REFUND_QUEUE, RefundFailed, RefundNotAllowed
from transactions.refunds.perform import perform_refund, refund_once
from transactions.refunds.recovery import finish_refund_attempt
from transactions.refunds.request import request_refund

__all__ = [
    "REFUND_QUEUE",
    "RefundFailed",
    "RefundNotAllowed",
    "finish_refund_attempt",
    "perform_refund",
    "refund_once",
    "request_refund",
]
