"""Request a refund (spec Part B §5.9.1): append REFUND_REQUESTED and send it to the refund queue.

`request_refund` is a step of a decision (it writes). An NPG transaction whose authorization outcome
is unknown needs NPG's order to decide, and a decision calls no external service: its handler looks
the order up first (`look_up_order`) and passes what NPG answered, failures included, to the decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from receivers.handlers import DeadLetterCategory, HandlerError, RetryLater
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.clients import ClientError, npg
from transactions.clients.npg import OrderStatus
from transactions.reduction import TransactionState
from transactions.refunds.errors import REFUND_QUEUE
from transactions.refunds.gateway_data import authorization_request, get_order, npg_authorization
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus


@dataclass(frozen=True)
class OrderLookup:
    """NPG's order, classified, looked up before the decision; or why it needs a manual check instead."""

    order: npg.OrderClassification | None = None
    problem: HandlerError | None = None

    def classified(self) -> npg.OrderClassification:
        if self.problem is not None:
            raise self.problem
        return self.order


def needs_order_lookup(state: TransactionState) -> bool:
    """Whether requesting a refund now would need NPG's order: an NPG authorization with no outcome."""
    request = state.authorization_request_data
    return (
        not state.is_refund_requested
        and request is not None
        and request.payment_gateway is ev.PaymentGateway.NPG
        and state.authorization_completed_data is None
    )


def look_up_order(state: TransactionState) -> OrderLookup | None:
    """GET order for a refund request, when one would need it (None otherwise); never raises for NPG's sake.

    Pending, unknown, 5xx or no answer → UNKNOWN (gatewayAuthData null, resolved when refunding);
    4xx or authorized without operationId → a REFUND_MANUAL_CHECK_REQUIRED to raise in the decision.
    """
    if not needs_order_lookup(state):
        return None
    try:
        order = get_order(state).classify()
    except ClientError as error:
        if error.retryable:
            logger.warning("transaction %s: NPG order unknown for now: %s", state.transaction_id, error)
            return OrderLookup(npg.OrderClassification(OrderStatus.UNKNOWN))
        return OrderLookup(problem=HandlerError(DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED, str(error)))
    except ValueError as error:
        return OrderLookup(problem=HandlerError(DeadLetterCategory.PROCESSING_ERROR, str(error)))
    if order.status == OrderStatus.INVALID_RESPONSE:
        problem = f"transaction {state.transaction_id}: NPG order authorized without an operationId"
        return OrderLookup(problem=HandlerError(DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED, problem))
    return OrderLookup(order)


def request_refund(
    state: TransactionState,
    status_before_refunded: ev.TransactionStatus,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
    order_lookup: OrderLookup | None = None,
) -> None:
    """Append REFUND_REQUESTED for the transaction in `state` and send it to the refund queue (§5.9.1).

    - already refund-requested (REFUND_REQUESTED/REFUND_ERROR/REFUNDED): nothing;
    - REDIRECT: gatewayAuthData null;
    - NPG: the completed authorization's gateway data when there is one, else the order looked up
      before the decision (`order_lookup`): authorized → its operation; not authorized → no refund at
      all (nothing written or sent); pending, unknown → gatewayAuthData null; 4xx or authorized
      without operationId → HandlerError(REFUND_MANUAL_CHECK_REQUIRED); already refunded →
      REFUND_REQUESTED and REFUND_ERROR appended, then HandlerError(REFUND_MANUAL_CHECK_REQUIRED).
      Without a lookup (the state changed since it was taken) → RetryLater: look it up again.
    No authorization request, or another gateway → HandlerError(PROCESSING_ERROR).
    """
    if state.is_refund_requested:
        logger.info("transaction %s: refund already requested", state.transaction_id)
        return
    request = authorization_request(state)
    if request.payment_gateway is ev.PaymentGateway.REDIRECT:
        authorization = None
    elif request.payment_gateway is ev.PaymentGateway.NPG:
        completed = state.authorization_completed_data
        if completed is not None:
            authorization = completed.transaction_gateway_authorization_data
        else:
            if order_lookup is None:
                raise RetryLater(f"transaction {state.transaction_id}: its NPG order must be looked up first")
            order = order_lookup.classified()
            if order.status == OrderStatus.NOT_AUTHORIZED:
                logger.info("transaction %s: NPG order not authorized, nothing to refund", state.transaction_id)
                return
            authorization = npg_authorization(order.authorization) if order.authorization else None
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
