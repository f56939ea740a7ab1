"""The "Transaction status updated" span (spec Part B §15), emitted whenever a handler changes a status.

`transactions.store.record_events` calls `trace_status_change` after its commit; the span is a child
of the span of the message being handled and carries the reference's `updateTransactionStatus.*`
attributes. The reference emits it only for closePayment outcomes; here every status change the
dispatcher records gets one, so the types and triggers of the reference are extended for the
changes it did not trace (EXPIRATION, REFUND, USER_RECEIPT_NOTIFICATION; EVENT_DISPATCHER and
NOTIFICATIONS_SERVICE as triggers). Attributes the transaction cannot give are "N/A", as in the
reference; `walletPayment` is absent before an authorization was requested.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import trace

from transactions import events as ev
from transactions.reduction import TransactionState

SPAN_NAME = "Transaction status updated"
NOT_AVAILABLE = "N/A"
ATTRIBUTE_PREFIX = "updateTransactionStatus."

tracer = trace.get_tracer("transactions.tracing")


class UpdateType(enum.StrEnum):
    AUTHORIZATION_REQUESTED = "AUTHORIZATION_REQUESTED"
    AUTHORIZATION_OUTCOME = "AUTHORIZATION_OUTCOME"
    SEND_PAYMENT_RESULT_OUTCOME = "SEND_PAYMENT_RESULT_OUTCOME"
    CLOSE_PAYMENT_OUTCOME = "CLOSE_PAYMENT_OUTCOME"
    # Not in the reference: the status changes it did not trace.
    CLOSURE_REQUEST = "CLOSURE_REQUEST"
    USER_CANCELLATION = "USER_CANCELLATION"
    EXPIRATION = "EXPIRATION"
    REFUND = "REFUND"
    USER_RECEIPT_NOTIFICATION = "USER_RECEIPT_NOTIFICATION"


class UpdateTrigger(enum.StrEnum):
    NODO = "NODO"
    NPG = "NPG"
    PGS_VPOS = "PGS_VPOS"
    PGS_XPAY = "PGS_XPAY"
    REDIRECT = "REDIRECT"
    UNKNOWN = "UNKNOWN"
    # Not in the reference.
    EVENT_DISPATCHER = "EVENT_DISPATCHER"
    NOTIFICATIONS_SERVICE = "NOTIFICATIONS_SERVICE"


class UpdateOutcome(enum.StrEnum):
    OK = "OK"
    WRONG_TRANSACTION_STATUS = "WRONG_TRANSACTION_STATUS"
    TRANSACTION_NOT_FOUND = "TRANSACTION_NOT_FOUND"
    INVALID_REQUEST = "INVALID_REQUEST"
    PROCESSING_ERROR = "PROCESSING_ERROR"


GATEWAY_TRIGGERS = {
    ev.PaymentGateway.NPG: UpdateTrigger.NPG,
    ev.PaymentGateway.REDIRECT: UpdateTrigger.REDIRECT,
    ev.PaymentGateway.VPOS: UpdateTrigger.PGS_VPOS,
    ev.PaymentGateway.XPAY: UpdateTrigger.PGS_XPAY,
}
GATEWAY = None  # marker in EVENT_UPDATES: the trigger is the transaction's payment gateway

C = ev.EventCode
OK, ERROR = UpdateOutcome.OK, UpdateOutcome.PROCESSING_ERROR
# Event code → (type, trigger, outcome) of the status update it records.
EVENT_UPDATES: dict[ev.EventCode, tuple[UpdateType, UpdateTrigger | None, UpdateOutcome]] = {
    C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT: (UpdateType.AUTHORIZATION_REQUESTED, GATEWAY, OK),
    C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT: (UpdateType.AUTHORIZATION_OUTCOME, GATEWAY, OK),
    C.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT: (UpdateType.AUTHORIZATION_OUTCOME, GATEWAY, ERROR),
    C.TRANSACTION_CLOSURE_REQUESTED_EVENT: (UpdateType.CLOSURE_REQUEST, UpdateTrigger.UNKNOWN, OK),
    C.TRANSACTION_USER_CANCELED_EVENT: (UpdateType.USER_CANCELLATION, UpdateTrigger.UNKNOWN, OK),
    C.TRANSACTION_CLOSED_EVENT: (UpdateType.CLOSE_PAYMENT_OUTCOME, UpdateTrigger.NODO, OK),
    C.TRANSACTION_CLOSURE_FAILED_EVENT: (UpdateType.CLOSE_PAYMENT_OUTCOME, UpdateTrigger.NODO, OK),
    C.TRANSACTION_CLOSURE_SYNTHETIC_EVENT: (UpdateType.CLOSE_PAYMENT_OUTCOME, UpdateTrigger.NODO, OK),
    C.TRANSACTION_CLOSURE_ERROR_EVENT: (UpdateType.CLOSE_PAYMENT_OUTCOME, UpdateTrigger.NODO, ERROR),
    C.TRANSACTION_CLOSURE_RETRIED_EVENT: (UpdateType.CLOSE_PAYMENT_OUTCOME, UpdateTrigger.NODO, ERROR),
    C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT: (UpdateType.SEND_PAYMENT_RESULT_OUTCOME, UpdateTrigger.NODO, OK),
    C.TRANSACTION_USER_RECEIPT_ADDED_EVENT: (
        UpdateType.USER_RECEIPT_NOTIFICATION,
        UpdateTrigger.NOTIFICATIONS_SERVICE,
        OK,
    ),
    C.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT: (
        UpdateType.USER_RECEIPT_NOTIFICATION,
        UpdateTrigger.NOTIFICATIONS_SERVICE,
        ERROR,
    ),
    C.TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT: (
        UpdateType.USER_RECEIPT_NOTIFICATION,
        UpdateTrigger.NOTIFICATIONS_SERVICE,
        ERROR,
    ),
    C.TRANSACTION_EXPIRED_EVENT: (UpdateType.EXPIRATION, UpdateTrigger.EVENT_DISPATCHER, OK),
    C.TRANSACTION_REFUND_REQUESTED_EVENT: (UpdateType.REFUND, GATEWAY, OK),
    C.TRANSACTION_REFUNDED_EVENT: (UpdateType.REFUND, GATEWAY, OK),
    C.TRANSACTION_REFUND_ERROR_EVENT: (UpdateType.REFUND, GATEWAY, ERROR),
    C.TRANSACTION_REFUND_RETRIED_EVENT: (UpdateType.REFUND, GATEWAY, ERROR),
}


@dataclass(frozen=True)
class StatusUpdate:
    """What one "Transaction status updated" span says."""

    type: UpdateType
    outcome: UpdateOutcome
    trigger: UpdateTrigger
    psp_id: str
    payment_method_type_code: str
    client_id: str
    wallet_payment: bool | None
    gateway_outcome: str
    gateway_error_code: str

    def attributes(self) -> dict[str, str | bool]:
        attributes: dict[str, str | bool] = {
            "type": self.type.value,
            "outcome": self.outcome.value,
            "trigger": self.trigger.value,
            "pspId": self.psp_id,
            "gateway.outcome": self.gateway_outcome,
            "gateway.errorCode": self.gateway_error_code,
            "paymentMethodTypeCode": self.payment_method_type_code,
            "clientId": self.client_id,
        }
        if self.wallet_payment is not None:
            attributes["walletPayment"] = self.wallet_payment
        return {ATTRIBUTE_PREFIX + name: value for name, value in attributes.items()}


def status_after(state: TransactionState, new_events: Sequence[ev.TransactionEvent]) -> ev.TransactionStatus | None:
    """The aggregate status once `new_events` follow `state`."""
    for event in new_events:
        state = state.apply(event)
    return state.status


def status_update(
    state: TransactionState,
    new_events: Sequence[ev.TransactionEvent],
    view_status: ev.TransactionStatus | None = None,
) -> StatusUpdate | None:
    """The update recorded by appending `new_events` to `state`, or None when the status stays.

    The new status is the view status the handler set, else what the events reduce to; the last
    event describes the update (an ACTIVATED event creates a transaction rather than updating one).
    """
    new_status = view_status or status_after(state, new_events)
    if not new_events or new_status is state.status or new_events[-1].event_code not in EVENT_UPDATES:
        return None
    event = new_events[-1]
    update_type, trigger, outcome = EVENT_UPDATES[event.event_code]
    request = state.authorization_request_data
    activation = state.activation_data
    gateway_outcome, gateway_error_code = gateway_result(state, event)
    return StatusUpdate(
        type=update_type,
        outcome=outcome,
        trigger=trigger or gateway_trigger(request),
        psp_id=request.psp_id if request else NOT_AVAILABLE,
        payment_method_type_code=request.payment_type_code.value if request else NOT_AVAILABLE,
        client_id=activation.client_id.value if activation else NOT_AVAILABLE,
        wallet_payment=is_wallet_payment(request),
        gateway_outcome=gateway_outcome,
        gateway_error_code=gateway_error_code,
    )


def gateway_trigger(request: ev.TransactionAuthorizationRequestData | None) -> UpdateTrigger:
    if request is None:
        return UpdateTrigger.UNKNOWN
    return GATEWAY_TRIGGERS.get(request.payment_gateway, UpdateTrigger.UNKNOWN)


def is_wallet_payment(request: ev.TransactionAuthorizationRequestData | None) -> bool | None:
    """Whether an onboarded method (a wallet) paid; None before an authorization was requested."""
    if request is None:
        return None
    requested = request.transaction_gateway_authorization_requested_data
    return getattr(requested, "wallet_info", None) is not None


def gateway_result(state: TransactionState, event: ev.TransactionEvent) -> tuple[str, str]:
    """(gateway.outcome, gateway.errorCode): what the external party answered, when the event says."""
    code = event.event_code
    data = event.data
    if code in (C.TRANSACTION_CLOSED_EVENT, C.TRANSACTION_CLOSURE_FAILED_EVENT, C.TRANSACTION_CLOSURE_SYNTHETIC_EVENT):
        return data.response_outcome.value, NOT_AVAILABLE
    if code is C.TRANSACTION_CLOSURE_ERROR_EVENT:
        return NOT_AVAILABLE, closure_error_text(data)
    if code is C.TRANSACTION_CLOSURE_RETRIED_EVENT:
        return NOT_AVAILABLE, closure_error_text(data.closure_error_data)
    if code is C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT:
        return _authorization_result(data.transaction_gateway_authorization_data)
    if code in (
        C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT,
        C.TRANSACTION_USER_RECEIPT_ADDED_EVENT,
        C.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT,
    ):
        outcome = data.response_outcome
        return (outcome.value if outcome else NOT_AVAILABLE), NOT_AVAILABLE
    return NOT_AVAILABLE, NOT_AVAILABLE


def closure_error_text(data: ev.ClosureErrorData | None) -> str:
    """The reference's error text of a failed closePayment: `HTTP code:[500] - descr:[...]`."""
    code = data.http_status_code if data else None
    description = data.error_description if data else None
    return f"HTTP code:[{code or NOT_AVAILABLE}] - descr:[{description or NOT_AVAILABLE}]"


def _authorization_result(gateway: ev.TransactionGatewayAuthorizationData) -> tuple[str, str]:
    for attribute in ("operation_result", "outcome", "authorization_result_dto"):
        value = getattr(gateway, attribute, None)
        if value is not None:
            return value.value, getattr(gateway, "error_code", None) or NOT_AVAILABLE
    return NOT_AVAILABLE, NOT_AVAILABLE


def trace_status_change(
    state: TransactionState,
    new_events: Sequence[ev.TransactionEvent],
    view_status: ev.TransactionStatus | None = None,
) -> None:
    """Emit the "Transaction status updated" span when `new_events` changed the status of `state`."""
    update = status_update(state, new_events, view_status)
    if update is None:
        return
    with tracer.start_as_current_span(SPAN_NAME, attributes=update.attributes()):
        pass
