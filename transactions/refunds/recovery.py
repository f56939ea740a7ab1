"""A refund or refund-retry message that comes back after its attempt was stored: finish what the
attempt left undone, without calling the gateway again (spec Part A §3)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from receivers.handlers import DeadLetterCategory, HandlerError, Outbox
from transactions import events as ev
from transactions.handling import first_of, resend_retry_event
from transactions.reduction import TransactionState
from transactions.refunds.gateway_data import authorization_request
from transactions.retry import NoRetryAttemptsLeft, RetryKind, enqueue_retry_event

logger = logging.getLogger(__name__)

S = ev.TransactionStatus


ATTEMPT_CODES = frozenset(
    {
        ev.EventCode.TRANSACTION_REFUNDED_EVENT,
        ev.EventCode.TRANSACTION_REFUND_ERROR_EVENT,
        ev.EventCode.TRANSACTION_REFUND_RETRIED_EVENT,
    }
)


def finish_refund_attempt(
    state: TransactionState,
    after: tuple[ev.TransactionEvent, ...],
    retry_count: int,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
) -> bool:
    """Finish the follow-ups of a refund attempt already stored for this message; False when there is none.

    `after` holds the events stored after the message's own event. Its first refund event is the
    outcome of the message's attempt (no gateway is called again):
    - REFUNDED: done;
    - REFUND_ERROR of a first attempt: the retry that followed it is scheduled when it was never
      stored, or its message sent again while nobody has acted on it;
    - REFUND_ERROR after a retry (only a redirect KO writes one): the refund was refused, so
      HandlerError(PROCESSING_ERROR) as on the first handling;
    - REFUND_RETRIED (a failed retry): its message again while nobody has acted on it.
    A copy of a retry message is safe: refund-retry finds the outcome stored after it and stops here.
    """
    found = first_of(after, ATTEMPT_CODES)
    if found is None:
        return False
    outcome, later = found
    code = outcome.event_code
    if code is ev.EventCode.TRANSACTION_REFUNDED_EVENT:
        logger.info("transaction %s: refund already recorded", state.transaction_id)
    elif code is ev.EventCode.TRANSACTION_REFUND_RETRIED_EVENT:
        _send_pending_retry_again(state, outcome, later, outbox, tracing_info)
    elif retry_count > 0:
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"the refund of transaction {state.transaction_id} was refused (REFUND_ERROR stored)",
        )
    else:
        retried = first_of(later, ATTEMPT_CODES)
        if retried is not None:
            _send_pending_retry_again(state, *retried, outbox, tracing_info)
        elif state.status is S.REFUND_ERROR:
            _schedule_first_retry(state, outbox, tracing_info)
    return True


def _send_pending_retry_again(
    state: TransactionState,
    retried: ev.TransactionEvent,
    later: tuple[ev.TransactionEvent, ...],
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
) -> None:
    is_retry = retried.event_code is ev.EventCode.TRANSACTION_REFUND_RETRIED_EVENT
    if is_retry and first_of(later, ATTEMPT_CODES) is None and state.status is S.REFUND_ERROR:
        resend_retry_event(RetryKind.REFUND, retried, outbox, tracing_info)


def _schedule_first_retry(state: TransactionState, outbox: Outbox, tracing_info: Mapping[str, Any]) -> None:
    """Retry 1 after a stored REFUND_ERROR whose retry was lost, carrying the NPG authorization known.

    Why the attempt failed is not stored: a refusal (4xx, redirect KO) is retried once more too, and
    that retry is refused and dead-lettered as PROCESSING_ERROR.
    """
    request = authorization_request(state)
    npg_gateway = request.payment_gateway is ev.PaymentGateway.NPG
    authorization = state.refund_gateway_authorization_data if npg_gateway else None
    logger.warning("transaction %s: REFUND_ERROR stored without its retry: scheduling retry 1", state.transaction_id)
    try:
        enqueue_retry_event(RetryKind.REFUND, state, 0, outbox, tracing_info, gateway_authorization_data=authorization)
    except NoRetryAttemptsLeft as exhausted:
        raise HandlerError(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, str(exhausted)) from exhausted
