"""Whether a transaction's money must go back, and whether a person must check first (spec Part B §4).

Both are pure functions of a `TransactionState`; EXPIRED and CLOSURE_ERROR are judged by the state
they wrap, so every answer also holds after an EXPIRED event.
"""

from __future__ import annotations

from transactions.events import ClosureOutcome, TransactionStatus, UserReceiptOutcome
from transactions.reduction import TransactionState

S = TransactionStatus

RECEIPT_STATUSES = frozenset({S.NOTIFICATION_REQUESTED, S.NOTIFICATION_ERROR, S.NOTIFIED_OK, S.NOTIFIED_KO})
COMPLETED_AUTHORIZATION_STATUSES = frozenset({S.AUTHORIZATION_COMPLETED, S.CLOSURE_REQUESTED, S.UNAUTHORIZED})
MANUAL_CHECK_STATUSES = frozenset({S.AUTHORIZATION_COMPLETED, S.CLOSURE_REQUESTED})


def is_refundable(state: TransactionState) -> bool:
    """True when the user may have been charged and the payment did not go through.

    - receipt statuses: Nodo's sendPaymentResult outcome is KO;
    - CLOSED: Nodo's closePayment answer was KO;
    - CLOSURE_ERROR: false after a user cancellation, else the state before the error;
    - AUTHORIZATION_COMPLETED, CLOSURE_REQUESTED, UNAUTHORIZED: the authorization outcome is not KO;
    - EXPIRED: the state before expiration;
    - anything else: whether an authorization was requested.
    """
    status = state.status
    if status in RECEIPT_STATUSES:
        receipt = state.user_receipt_data
        return receipt is not None and receipt.response_outcome is UserReceiptOutcome.KO
    if status is S.CLOSED:
        closure = state.closure_data
        return closure is not None and closure.response_outcome is ClosureOutcome.KO
    if status is S.CLOSURE_ERROR:
        if state.is_cancellation or state.previous is None:
            return False
        return is_refundable(state.previous)
    if status in COMPLETED_AUTHORIZATION_STATUSES:
        return not state.is_authorization_outcome_ko
    if status is S.EXPIRED and state.previous is not None:
        return is_refundable(state.previous)
    return state.was_authorization_requested


def is_refundable_check_required(state: TransactionState) -> bool:
    """True when a refund must not be automatic: the authorization may have succeeded but the
    transaction stopped at AUTHORIZATION_COMPLETED or CLOSURE_REQUESTED (also under EXPIRED or
    CLOSURE_ERROR), so an operator checks it (dead letter REFUND_MANUAL_CHECK_REQUIRED)."""
    underlying = state.unwrapped
    return underlying.status in MANUAL_CHECK_STATUSES and not underlying.is_authorization_outcome_ko
