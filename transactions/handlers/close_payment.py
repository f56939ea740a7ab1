"""Close payment (spec Part B §5.1): tell Nodo how the payment ended, on queues close-payment and
close-payment-retry.

1. store the incoming event; a transaction that already has a closure event needs nothing;
2. the status must be CANCELLATION_REQUESTED, CLOSURE_REQUESTED or CLOSURE_ERROR (else PROCESSING_ERROR);
3. call Nodo closePaymentV2 with outcome KO for a cancellation, else OK iff authorized; for a user
   cancellation delete the activation cache `keys:<rptId>` afterwards, whatever happened;
4. Nodo answered: CLOSED (or CLOSURE_FAILED when not authorized), and a refund when an authorized
   payment is answered KO;
5. Nodo failed: one CLOSURE_ERROR event per attempt; then a refund (refundable 4xx), a retry
   (no answer, 5xx, request not buildable) or nothing (other 4xx).
Steps 4 and 5 are one decision: the outcome, the refund request or retry, and their messages commit
together (spec Part A §11).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from django.conf import settings

from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.clients import ClientError, nodo, pdv
from transactions.clients.nodo import NodoError
from transactions.close_payment_request import (
    ClosePaymentRequestError,
    close_payment_request,
    closure_outcome,
    personal_data_needed,
)
from transactions.handling import (
    decide_with_reloads,
    retry_count_of,
    store_incoming,
)
from transactions.reduction import TransactionState
from transactions.refunds import request_refund
from transactions.retry import NoRetryAttemptsLeft, RetryKind, enqueue_retry_event
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
CLOSABLE_STATUSES = frozenset({S.CANCELLATION_REQUESTED, S.CLOSURE_REQUESTED, S.CLOSURE_ERROR})


@dataclass(frozen=True)
class Closure:
    """What is being told to Nodo (spec §5.1 step 3)."""

    outcome: ev.ClosureOutcome
    was_authorized: bool
    canceled_by_user: bool

    @classmethod
    def of(cls, state: TransactionState) -> Closure:
        canceled = state.is_cancellation
        outcome = closure_outcome(state)
        return cls(outcome, not canceled and outcome is ev.ClosureOutcome.OK, canceled)


@queue_handler(
    "close-payment",
    accepts=[ev.TransactionUserCanceledEvent.class_name(), ev.TransactionClosureRequestedEvent.class_name()],
    parse=ev.parse_event,
)
def close_payment(message: QueueMessage, outbox: Outbox) -> None:
    """A closure was requested or the user canceled: close the payment on Nodo."""
    handle_closure(message, outbox)


@queue_handler(
    "close-payment-retry",
    accepts=[ev.TransactionClosureErrorEvent.class_name(), ev.TransactionClosureRetriedEvent.class_name()],
    parse=ev.parse_event,
)
def close_payment_retry(message: QueueMessage, outbox: Outbox) -> None:
    """A closure failed before: try Nodo again (retryCount from the retried event)."""
    handle_closure(message, outbox)


def handle_closure(message: QueueMessage, outbox: Outbox) -> None:
    """Steps 1-5 for either queue. Nodo is called once; recording its answer re-decides on conflicts."""
    transaction_id = message.transaction_id
    state = _state_to_close(store_incoming(message))
    if state is None:
        return
    try:
        closure = Closure.of(state)
    except ClosePaymentRequestError as error:  # legacy PGS data: no retry can ever close it
        raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, f"transaction {transaction_id}: {error}") from error
    try:
        try:
            nodo_outcome = _call_nodo(state, closure)
        finally:
            if closure.canceled_by_user:
                forget_activation_cache(state)
    except (ClientError, ClosePaymentRequestError) as error:
        logger.warning("transaction %s: closePayment failed: %s", transaction_id, error)
        failure = error
        decide_with_reloads(transaction_id, outbox, lambda fresh: _record_failure(fresh, failure, message, outbox))
        return
    decide_with_reloads(
        transaction_id, outbox, lambda fresh: _record_outcome(fresh, closure, nodo_outcome, message, outbox)
    )


def _state_to_close(state: TransactionState) -> TransactionState | None:
    """The state when a closure is due; None when the transaction is already closed (steps 1-2)."""
    if state.has_closure_event:
        logger.info("transaction %s is already closed", state.transaction_id)
        return None
    if state.status not in CLOSABLE_STATUSES:
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"transaction {state.transaction_id} cannot be closed in status {state.status}",
        )
    return state


def _call_nodo(state: TransactionState, closure: Closure) -> ev.ClosureOutcome:
    needed = personal_data_needed(state, closure.outcome)
    activation = state.activation_data
    email = pdv.decrypt_email(activation.email.data) if needed.email else None
    fiscal_code = pdv.decrypt_fiscal_code(activation.user_id) if needed.fiscal_code else None
    body = close_payment_request(state, closure.outcome, email=email, fiscal_code=fiscal_code)
    return ev.ClosureOutcome(nodo.close_payment(body).value)


def _still_closable(state: TransactionState, what: str) -> bool:
    """After Nodo's call: False when another consumer closed it meanwhile; PROCESSING_ERROR when it moved
    elsewhere (e.g. expired), so nothing contradicts what is stored."""
    if state.has_closure_event:
        logger.info("transaction %s was closed meanwhile; %s not recorded", state.transaction_id, what)
        return False
    if state.status not in CLOSABLE_STATUSES:
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"transaction {state.transaction_id} became {state.status} while Nodo was called; {what} not recorded",
        )
    return True


def _record_outcome(
    state: TransactionState,
    closure: Closure,
    nodo_outcome: ev.ClosureOutcome,
    message: QueueMessage,
    outbox: Outbox,
) -> None:
    """Step 4: CLOSED / CLOSURE_FAILED and the view; a refund when an authorized payment was answered KO."""
    if not _still_closable(state, f"Nodo's answer {nodo_outcome}"):
        return
    data = ev.TransactionClosureData(response_outcome=nodo_outcome, was_canceled_by_user=closure.canceled_by_user)
    if not closure.was_authorized and not closure.canceled_by_user:
        event: ev.TransactionEvent = ev.TransactionClosureFailedEvent.new(state.transaction_id, data)
    else:
        event = ev.TransactionClosedEvent.new(state.transaction_id, data)
    if closure.canceled_by_user:
        view_status = S.CANCELED
    else:
        view_status = S.CLOSED if closure.outcome is ev.ClosureOutcome.OK else S.UNAUTHORIZED
    waiting_for_result = not closure.canceled_by_user and closure.outcome is ev.ClosureOutcome.OK
    record_events(
        state,
        [event],
        view_status=view_status,
        closure_error_data=None,
        send_payment_result_outcome=ev.UserReceiptOutcome.NOT_RECEIVED if waiting_for_result else None,
    )
    closed = state.apply(event)
    if closed.status is S.CLOSED and nodo_outcome is ev.ClosureOutcome.KO:
        request_refund(closed, S.CLOSED, outbox, message.tracing_info)


def _record_failure(state: TransactionState, error: Exception, message: QueueMessage, outbox: Outbox) -> None:
    """Step 5: CLOSURE_ERROR (every attempt); then a refund, a retry or nothing."""
    if not _still_closable(state, "the closePayment failure"):
        return
    error_data = closure_error_data(error)
    event = ev.TransactionClosureErrorEvent.new(state.transaction_id, error_data)
    record_events(state, [event], view_status=S.CLOSURE_ERROR, closure_error_data=error_data)
    _follow_closure_error(state.apply(event), error_data, message, outbox)


# --- what follows a closure error (step 5) -----------------------------------------------------------


def _follow_closure_error(
    state: TransactionState, error_data: ev.ClosureErrorData, message: QueueMessage, outbox: Outbox
) -> None:
    status = _stored_status(error_data)
    if status is not None and nodo.is_refundable_answer(status, error_data.error_description):
        if state.is_authorized and state.is_closure_requested:
            request_refund(state, S.CLOSURE_ERROR, outbox, message.tracing_info)
        return
    # Only Nodo's own answer can stop the retries; a failure to build the request (PDV included) is retried.
    if status is not None and status < 500:
        logger.warning("transaction %s: Nodo refused the closure (%s); no retry", state.transaction_id, status)
        return
    try:
        enqueue_retry_event(
            RetryKind.CLOSURE,
            state,
            retry_count_of(message),
            outbox,
            message.tracing_info,
            closure_error_data=error_data,
        )
    except NoRetryAttemptsLeft as exhausted:
        raise HandlerError(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, str(exhausted)) from exhausted


def _stored_status(error_data: ev.ClosureErrorData) -> int | None:
    """Nodo's HTTP status as stored; a status without a name is stored as its digits."""
    code = error_data.http_error_code
    if error_data.http_status_code is None and code is not None and code.isdigit():
        return int(code)
    return error_data.http_status_code


def closure_error_data(error: Exception) -> ev.ClosureErrorData:
    """ClosureErrorData of a failed closure: Nodo's status and description when it answered."""
    if isinstance(error, NodoError):
        return ev.ClosureErrorData.from_response(error.status, error.description)
    return ev.ClosureErrorData.from_response(None, str(error))


def forget_activation_cache(state: TransactionState) -> None:
    """Delete `keys:<rptId>` of every notice; a Redis failure is logged, never raised (fire-and-forget)."""
    keys = [f"keys:{notice.rpt_id}" for notice in state.activation_data.payment_notices]
    timeout = settings.DISPATCHER.REDIS_TIMEOUT_SECONDS
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.delete(*keys)
        finally:
            client.close()
    except redis.RedisError as error:
        logger.warning("transaction %s: activation cache not deleted: %s", state.transaction_id, error)
