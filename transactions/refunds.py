"""Asking for a refund and performing it (spec Part B §5.9), shared by every handler that refunds.

`request_refund` appends REFUND_REQUESTED and puts the refund-queue message in the outbox (§5.9.1);
`perform_refund` calls NPG or the redirect PSP and records REFUNDED, or the error and the next retry
(§5.9.2). Both append after `state.last_sequence`: a ConcurrentAppendError means reload and decide
again (see `transactions.handling.decide_with_reloads`). `finish_refund_attempt` is what a refund or
refund-retry message does when it comes back after the outcome of its attempt was stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receivers.handlers import DeadLetterCategory, HandlerError, Outbox, QueueMessage
from transactions import events as ev
from transactions.clients import ClientError, node_forwarder, npg
from transactions.clients.node_forwarder import RedirectRefundOutcome
from transactions.clients.npg import OrderStatus
from transactions.handling import decide_with_reloads, events_after_incoming, first_of, resend_retry_event
from transactions.redirect_urls import RedirectConfigurationError, resolve_redirect_url
from transactions.reduction import TransactionState
from transactions.retry import NoRetryAttemptsLeft, RetryKind, enqueue_retry_event
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
REFUND_QUEUE = "refund"


class RefundNotAllowed(Exception):
    """The gateway refuses the refund for good (4xx, redirect KO, order already refunded)."""

    def __init__(self, message: str, redirect_ko: bool = False):
        self.redirect_ko = redirect_ko
        super().__init__(message)


class RefundFailed(Exception):
    """The refund may work later; retry with `authorization` (None: resolve it again from NPG)."""

    def __init__(self, message: str, authorization: ev.TransactionGatewayAuthorizationData | None):
        self.authorization = authorization
        super().__init__(message)


# --- §5.9.1 request refund ------------------------------------------------------------------------


def request_refund(
    state: TransactionState,
    status_before_refunded: ev.TransactionStatus,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
) -> None:
    """Append REFUND_REQUESTED for the transaction in `state` and send it to the refund queue (§5.9.1).

    - already refund-requested (REFUND_REQUESTED/REFUND_ERROR/REFUNDED): nothing;
    - REDIRECT: gatewayAuthData null;
    - NPG: the completed authorization's gateway data when there is one, else NPG GET order:
      authorized → its operation; not authorized → no refund at all (nothing written or sent);
      pending, unknown, 5xx, no answer → gatewayAuthData null (resolved again when refunding);
      4xx or authorized without operationId → HandlerError(REFUND_MANUAL_CHECK_REQUIRED);
      already refunded → REFUND_REQUESTED and REFUND_ERROR appended, then
      HandlerError(REFUND_MANUAL_CHECK_REQUIRED).
    No authorization request, or another gateway → HandlerError(PROCESSING_ERROR).
    """
    if state.is_refund_requested:
        logger.info("transaction %s: refund already requested", state.transaction_id)
        return
    request = _authorization_request(state)
    if request.payment_gateway is ev.PaymentGateway.REDIRECT:
        authorization = None
    elif request.payment_gateway is ev.PaymentGateway.NPG:
        completed = state.authorization_completed_data
        if completed is not None:
            authorization = completed.transaction_gateway_authorization_data
        else:
            order = _order_for_refund_request(state)
            if order.status == OrderStatus.NOT_AUTHORIZED:
                logger.info("transaction %s: NPG order not authorized, nothing to refund", state.transaction_id)
                return
            authorization = _npg_authorization(order.authorization) if order.authorization else None
            if order.status == OrderStatus.REFUNDED:
                _record_already_refunded(state, status_before_refunded, authorization)
                raise HandlerError(
                    DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED,
                    f"transaction {state.transaction_id}: the NPG order is already refunded",
                )
    else:
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"transaction {state.transaction_id}: no refund through gateway {request.payment_gateway}",
        )
    event = _refund_requested_event(state, status_before_refunded, authorization)
    record_events(state, [event], view_status=S.REFUND_REQUESTED)
    outbox.send(REFUND_QUEUE, event.to_json_dict(), tracing_info)


def _authorization_request(state: TransactionState) -> ev.TransactionAuthorizationRequestData:
    request = state.authorization_request_data
    if request is None:
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"transaction {state.transaction_id}: no authorization was requested, nothing to refund",
        )
    return request


def _order_for_refund_request(state: TransactionState) -> npg.OrderClassification:
    """GET order, classified; UNKNOWN for any failure that may pass, manual check for the others."""
    try:
        order = _get_order(state).classify()
    except ClientError as error:
        if error.retryable:
            logger.warning("transaction %s: NPG order unknown for now: %s", state.transaction_id, error)
            return npg.OrderClassification(OrderStatus.UNKNOWN)
        raise HandlerError(DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED, str(error)) from error
    if order.status == OrderStatus.INVALID_RESPONSE:
        raise HandlerError(
            DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED,
            f"transaction {state.transaction_id}: NPG order authorized without an operationId",
        )
    return order


def _record_already_refunded(
    state: TransactionState,
    status_before_refunded: ev.TransactionStatus,
    authorization: ev.TransactionGatewayAuthorizationData | None,
) -> None:
    requested = _refund_requested_event(state, status_before_refunded, authorization)
    error = ev.TransactionRefundErrorEvent.new(
        state.transaction_id, ev.TransactionRefundErrorData(status_before_refunded=S.REFUND_REQUESTED)
    )
    record_events(state, [requested, error], view_status=S.REFUND_ERROR)


def _refund_requested_event(
    state: TransactionState,
    status_before_refunded: ev.TransactionStatus,
    authorization: ev.TransactionGatewayAuthorizationData | None,
) -> ev.TransactionRefundRequestedEvent:
    data = ev.TransactionRefundRequestedData(
        status_before_refunded=status_before_refunded, gateway_auth_data=authorization, refund_trigger=None
    )
    return ev.TransactionRefundRequestedEvent.new(state.transaction_id, data)


def _npg_authorization(operation: npg.NpgOperation) -> ev.NpgTransactionGatewayAuthorizationData:
    return ev.NpgTransactionGatewayAuthorizationData(
        operation_result=ev.NpgOperationResult(operation.operation_result),
        operation_id=operation.operation_id,
        payment_end_to_end_id=operation.payment_end_to_end_id,
        error_code=None,
        validation_service_id=None,
    )


def _get_order(state: TransactionState) -> npg.NpgOrder:
    request = state.authorization_request_data
    return npg.get_order(
        request.authorization_request_id,
        _correlation_id(state),
        request.payment_type_code.value,
        request.psp_id,
    )


def _correlation_id(state: TransactionState) -> str:
    activation = state.activation_data.transaction_gateway_activation_data
    if not isinstance(activation, ev.NpgTransactionGatewayActivationData):
        raise ValueError(f"transaction {state.transaction_id} has no NPG activation data (correlation id)")
    return activation.correlation_id


# --- §5.9.2 perform refund ------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundAttempt:
    """What one gateway call answered, before anything is written (see `call_refund_gateway`)."""

    refunded: ev.GatewayRefundData | None = None  # the refund went through
    refused: str | None = None  # refused for good
    refused_with_ko: bool = False  # a redirect PSP answered KO: one REFUND_ERROR even on a retry
    failure: str | None = None  # may work later: retry
    retry_authorization: ev.TransactionGatewayAuthorizationData | None = None  # for the retry event


def perform_refund(
    state: TransactionState,
    retry_count: int,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
) -> None:
    """Refund the transaction in `state` (REFUND_REQUESTED or REFUND_ERROR) through its gateway (§5.9.2):
    `record_refund_attempt(state, call_refund_gateway(state), ...)`. Handlers use `refund_once`, which
    re-decides on conflicts without calling the gateway again."""
    record_refund_attempt(state, call_refund_gateway(state), retry_count, outbox, tracing_info)


def call_refund_gateway(state: TransactionState) -> RefundAttempt:
    """Call NPG (GET order first when the authorization is unknown) or the redirect PSP; write nothing.

    An NPG order that was never authorized gives an empty attempt (nothing to refund, nothing to write).
    """
    request = _authorization_request(state)
    try:
        if request.payment_gateway is ev.PaymentGateway.NPG:
            refunded = _refund_through_npg(state)
        elif request.payment_gateway is ev.PaymentGateway.REDIRECT:
            refunded = _refund_through_redirect(state)
        else:
            raise ValueError(f"no refund through gateway {request.payment_gateway}")
    except RefundNotAllowed as error:
        return RefundAttempt(refused=str(error), refused_with_ko=error.redirect_ko)
    except RefundFailed as error:
        logger.warning("transaction %s: refund failed, retrying: %s", state.transaction_id, error)
        return RefundAttempt(failure=str(error), retry_authorization=error.authorization)
    except (ClientError, RedirectConfigurationError, ValueError) as error:
        logger.warning("transaction %s: refund failed, retrying: %s", state.transaction_id, error)
        return RefundAttempt(failure=str(error))
    return RefundAttempt(refunded=refunded)


def record_refund_attempt(
    state: TransactionState,
    attempt: RefundAttempt,
    retry_count: int,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
) -> None:
    """Record the gateway's answer after the events of `state` (§5.9.2).

    Success appends REFUNDED (NPG: the refund operation's id; REDIRECT: EMPTY) and sets the view.
    On failure, when `retry_count` is 0, REFUND_ERROR is appended first; then:
    - refused for good (NPG or redirect 4xx, redirect KO, NPG order 4xx/invalid/already refunded)
      → HandlerError(PROCESSING_ERROR);
    - anything else → refund retry with count `retry_count` + 1 (carrying the NPG authorization when
      known), or HandlerError(RETRY_EVENT_NO_ATTEMPTS_LEFT) when the attempts are used up.
    An NPG order that was never authorized needs no refund: nothing is written.
    A redirect PSP answering KO gets exactly one REFUND_ERROR event (spec Part A §7), on a retry too.
    """
    if attempt.refused is not None:
        _record_refund_error(state, 0 if attempt.refused_with_ko else retry_count)
        raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, attempt.refused)
    if attempt.failure is not None:
        _retry_refund(state, retry_count, outbox, tracing_info, attempt.retry_authorization)
        return
    if attempt.refunded is None:
        return
    event = ev.TransactionRefundedEvent.new(
        state.transaction_id,
        ev.TransactionRefundedData(status_before_refunded=state.status, gateway_operation_data=attempt.refunded),
    )
    record_events(state, [event], view_status=S.REFUNDED)


def refund_once(
    message: QueueMessage,
    outbox: Outbox,
    retry_count: int,
    is_due: Callable[[TransactionState], bool],
) -> None:
    """The refund and refund-retry handlers: decide, call the gateway once, record its answer.

    A message whose attempt is already stored finishes that attempt (`finish_refund_attempt`);
    otherwise `is_due(state)` says whether to refund (it may raise HandlerError). A conflict while
    recording re-decides on the fresh state without calling the gateway again; when another consumer
    (a copy of this message) stored its outcome meanwhile, that outcome is followed and ours dropped.
    """
    transaction_id = message.transaction_id

    def stored_attempt_finished(state: TransactionState) -> bool:
        after = events_after_incoming(state, message) or ()
        return finish_refund_attempt(state, after, retry_count, outbox, message.tracing_info)

    def due_state(state: TransactionState) -> TransactionState | None:
        if stored_attempt_finished(state) or not is_due(state):
            return None
        return state

    state = decide_with_reloads(transaction_id, outbox, due_state)
    if state is None:
        return
    attempt = call_refund_gateway(state)

    def record(fresh: TransactionState) -> None:
        if stored_attempt_finished(fresh):
            logger.info("transaction %s: a refund outcome was stored meanwhile; ours not recorded", transaction_id)
        elif fresh.status is not state.status:
            logger.info("transaction %s became %s during the refund; not recorded", transaction_id, fresh.status)
        else:
            record_refund_attempt(fresh, attempt, retry_count, outbox, message.tracing_info)

    decide_with_reloads(transaction_id, outbox, record)


def _refund_through_npg(state: TransactionState) -> ev.GatewayRefundData | None:
    """NPG refund of the authorization; None when the order was never authorized."""
    request = state.authorization_request_data
    authorization = state.refund_gateway_authorization_data
    if authorization is None:
        authorization = _authorization_from_order(state)
        if authorization is None:
            return None
    operation_id = getattr(authorization, "operation_id", None)
    if not operation_id:
        raise RefundFailed("the NPG authorization has no operationId", None)
    try:
        refund = npg.refund(
            operation_id,
            state.transaction_id,
            request.total_amount,
            _correlation_id(state),
            request.payment_type_code.value,
            request.psp_id,
        )
    except ClientError as error:
        if error.retryable:
            raise RefundFailed(str(error), authorization) from error
        raise RefundNotAllowed(str(error)) from error
    return ev.NpgGatewayRefundData(operation_id=refund.operation_id)


def _authorization_from_order(state: TransactionState) -> ev.TransactionGatewayAuthorizationData | None:
    try:
        order = _get_order(state).classify()
    except ClientError as error:
        if error.retryable:
            raise RefundFailed(str(error), None) from error
        raise RefundNotAllowed(str(error)) from error
    if order.status in (OrderStatus.REFUNDED, OrderStatus.INVALID_RESPONSE):
        raise RefundNotAllowed(f"NPG order of transaction {state.transaction_id} is {order.status}")
    if order.status == OrderStatus.NOT_AUTHORIZED:
        logger.info("transaction %s: NPG order not authorized, nothing to refund", state.transaction_id)
        return None
    if order.status == OrderStatus.AUTHORIZED:
        return _npg_authorization(order.authorization)
    raise RefundFailed(f"NPG order of transaction {state.transaction_id} is {order.status}", None)


def _refund_through_redirect(state: TransactionState) -> ev.GatewayRefundData:
    request = state.authorization_request_data
    criteria = {
        "TOUCHPOINT": _touchpoint(state.activation_data.client_id),
        "PSP_ID": request.psp_id,
        "PAYMENT_TYPE_CODE": request.payment_type_code.value,
        "PSP_CHANNEL_ID": request.psp_channel_code,
    }
    url = resolve_redirect_url(criteria)
    try:
        outcome = node_forwarder.refund_redirect(url, state.transaction_id, request.authorization_request_id)
    except ClientError as error:
        if error.retryable:
            raise
        raise RefundNotAllowed(str(error)) from error
    if outcome is RedirectRefundOutcome.KO:
        message = f"redirect PSP answered KO to the refund of transaction {state.transaction_id}"
        raise RefundNotAllowed(message, redirect_ko=True)
    return ev.EmptyGatewayRefundData()


def _touchpoint(client_id: ev.ClientId) -> str:
    effective = client_id.effective
    return ev.ClientId.CHECKOUT.value if effective is ev.ClientId.CHECKOUT_CART else effective.value


def _record_refund_error(state: TransactionState, retry_count: int) -> TransactionState:
    """REFUND_ERROR on a first attempt (retry_count 0); the state to continue from."""
    if retry_count != 0:
        return state
    event = ev.TransactionRefundErrorEvent.new(
        state.transaction_id, ev.TransactionRefundErrorData(status_before_refunded=state.status)
    )
    record_events(state, [event], view_status=S.REFUND_ERROR)
    return state.apply(event)


def _retry_refund(
    state: TransactionState,
    retry_count: int,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
    authorization: ev.TransactionGatewayAuthorizationData | None,
) -> None:
    state = _record_refund_error(state, retry_count)
    try:
        enqueue_retry_event(
            RetryKind.REFUND, state, retry_count, outbox, tracing_info, gateway_authorization_data=authorization
        )
    except NoRetryAttemptsLeft as exhausted:
        raise HandlerError(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, str(exhausted)) from exhausted


# --- a message that comes back after its attempt was stored ---------------------------------------

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
    request = _authorization_request(state)
    npg_gateway = request.payment_gateway is ev.PaymentGateway.NPG
    authorization = state.refund_gateway_authorization_data if npg_gateway else None
    logger.warning("transaction %s: REFUND_ERROR stored without its retry: scheduling retry 1", state.transaction_id)
    try:
        enqueue_retry_event(RetryKind.REFUND, state, 0, outbox, tracing_info, gateway_authorization_data=authorization)
    except NoRetryAttemptsLeft as exhausted:
        raise HandlerError(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, str(exhausted)) from exhausted
