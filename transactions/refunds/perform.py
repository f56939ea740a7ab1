"""Perform a refund (spec Part B §5.9.2): call NPG or the redirect PSP once, record the answer, retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.clients import ClientError, node_forwarder, npg
from transactions.clients.node_forwarder import RedirectRefundOutcome
from transactions.clients.npg import OrderStatus
from transactions.handling import decide_with_reloads
from transactions.redirect_urls import RedirectConfigurationError, resolve_redirect_url
from transactions.reduction import TransactionState
from transactions.refunds.errors import RefundFailed, RefundNotAllowed
from transactions.refunds.gateway_data import authorization_request, correlation_id, get_order, npg_authorization
from transactions.retry import NoRetryAttemptsLeft, RetryKind, enqueue_retry_event
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus


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
    request = authorization_request(state)
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
    state: TransactionState,
) -> None:
    """The refund and refund-retry handlers: check, call the gateway once, record its answer.

    `state` is the transaction as the handler read it; `is_due(state)` says whether to refund (it may
    raise HandlerError). A conflict while recording re-decides on the fresh state without calling the
    gateway again; when the transaction moved on meanwhile (another consumer recorded an outcome), ours
    is dropped.
    """
    transaction_id = message.transaction_id
    if not is_due(state):
        return
    attempt = call_refund_gateway(state)

    def record(fresh: TransactionState) -> None:
        if fresh.status is not state.status:
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
            correlation_id(state),
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
        order = get_order(state).classify()
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
        return npg_authorization(order.authorization)
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
