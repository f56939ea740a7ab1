"""NPG, the Nexi payment gateway (spec Part B §8.2): payment state, order, refund; order classification (§5.9.1).

Every call uses the api key of the transaction's PSP for its payment method
(`NPG_<METHOD>_PSP_KEYS[pspId]`); a missing key is a configuration error and nothing is sent.
Failures: 5xx and no status are retryable, any other status is blocking (the reference's 4xx class).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from transactions.clients import ClientConfigurationError, ClientError, FailureReason, Service, call, json_object
from transactions.wire_formats import parse_npg_operation_time

PAYMENT_METHOD_BY_TYPE_CODE = {
    "CP": "CARDS",
    "PPAL": "PAYPAL",
    "MYBK": "MYBANK",
    "GOOG": "GOOGLEPAY",
    "APPL": "APPLEPAY",
    "BPAY": "BANCOMATPAY",
    "SATY": "SATISPAY",
}
PAYMENT_COMPLETE = "PAYMENT_COMPLETE"


class NpgError(ClientError):
    service = "npg"


class InvalidNpgResponse(NpgError):
    """NPG answered 2xx without what the flow needs (e.g. no operationTime). Retryable."""

    def __init__(self, operation: str, detail: str):
        super().__init__(operation, FailureReason.INVALID_RESPONSE, detail=detail)


class NpgPaymentNotComplete(NpgError):
    """getState answered, but the payment is not complete yet (e.g. GDI_VERIFICATION). Retryable."""

    def __init__(self, operation: str, state: str | None):
        self.state = state
        super().__init__(operation, FailureReason.INVALID_RESPONSE, detail=f"state {state}")


NPG = Service("npg", "NPG_URI", "NPG", NpgError)


def api_key(payment_type_code: str, psp_id: str) -> str:
    """The NPG api key for this PSP and payment method, or ClientConfigurationError (never the key)."""
    method = PAYMENT_METHOD_BY_TYPE_CODE.get(payment_type_code)
    if method is None:
        raise ClientConfigurationError("npg", "api-key", f"no NPG payment method for type code {payment_type_code}")
    keys = getattr(settings.DISPATCHER, f"NPG_{method}_PSP_KEYS")
    if psp_id not in keys:
        raise ClientConfigurationError("npg", "api-key", f"NPG_{method}_PSP_KEYS has no key for PSP {psp_id}")
    return keys[psp_id]


@dataclass(frozen=True)
class NpgOperation:
    operation_id: str | None
    order_id: str | None
    operation_type: str | None
    operation_result: str | None
    operation_time: str | None
    payment_end_to_end_id: str | None
    additional_data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NpgOperation:
        if not isinstance(data, Mapping):
            raise TypeError("operation is not an object")
        return cls(
            operation_id=data.get("operationId"),
            order_id=data.get("orderId"),
            operation_type=data.get("operationType"),
            operation_result=data.get("operationResult"),
            operation_time=data.get("operationTime"),
            payment_end_to_end_id=data.get("paymentEndToEndId"),
            additional_data=data.get("additionalData") or {},
        )

    def operation_time_cet(self) -> datetime:
        """operationTime read in zone CET (spec §5.8); ValueError when absent or malformed."""
        return parse_npg_operation_time(self.operation_time)

    @property
    def is_authorized(self) -> bool:
        return self.operation_type == "AUTHORIZATION" and self.operation_result == "EXECUTED"

    @property
    def is_refunded(self) -> bool:
        return self.operation_type == "REFUND" and self.operation_result == "VOIDED"


@dataclass(frozen=True)
class NpgState:
    """GET state's answer: the session state and, once there is one, the authorization operation."""

    state: str | None
    operation: NpgOperation | None

    def completed_operation(self) -> NpgOperation:
        """The operation of a complete payment (spec §5.8), or a retryable InvalidNpgResponse/NpgPaymentNotComplete."""
        operation = self.operation
        if operation is None or not operation.operation_time or not operation.operation_result:
            raise InvalidNpgResponse("get-state", "operation without operationTime or operationResult")
        try:
            operation.operation_time_cet()
        except ValueError:
            raise InvalidNpgResponse("get-state", "unreadable operationTime") from None
        if self.state != PAYMENT_COMPLETE:
            raise NpgPaymentNotComplete("get-state", self.state)
        return operation


class OrderStatus(enum.StrEnum):
    AUTHORIZED = "AUTHORIZED"
    PENDING = "PENDING"
    NOT_AUTHORIZED = "NOT_AUTHORIZED"
    REFUNDED = "REFUNDED"
    UNKNOWN = "UNKNOWN"
    # Authorized, but without the operationId a refund needs (the reference's InvalidNPGResponse).
    INVALID_RESPONSE = "INVALID_RESPONSE"


@dataclass(frozen=True)
class OrderClassification:
    """What an order's operations say. `authorization` is the EXECUTED authorization, when there is one."""

    status: OrderStatus
    authorization: NpgOperation | None = None
    deciding_operation: NpgOperation | None = None


def classify_order(operations: Sequence[NpgOperation] | None) -> OrderClassification:
    """Reduce the operations in order (spec §5.9.1).

    AUTHORIZATION+EXECUTED → authorized (unless already refunded); any other AUTHORIZATION result →
    pending (PENDING) or not authorized, unless an earlier operation already authorized or refunded;
    REFUND+VOIDED → refunded, which nothing overrides. No operations → unknown.
    """
    status, deciding = OrderStatus.UNKNOWN, None
    for operation in operations or ():
        if operation.is_refunded:
            status, deciding = OrderStatus.REFUNDED, operation
        elif operation.is_authorized and status != OrderStatus.REFUNDED:
            status, deciding = OrderStatus.AUTHORIZED, operation
        elif operation.operation_type == "AUTHORIZATION" and status not in (
            OrderStatus.REFUNDED,
            OrderStatus.AUTHORIZED,
        ):
            pending = operation.operation_result == "PENDING"
            status, deciding = (OrderStatus.PENDING if pending else OrderStatus.NOT_AUTHORIZED), operation
    if status == OrderStatus.AUTHORIZED:
        if not deciding.operation_id:
            return OrderClassification(OrderStatus.INVALID_RESPONSE, None, deciding)
        return OrderClassification(status, deciding, deciding)
    if status == OrderStatus.REFUNDED:
        authorization = next((op for op in operations if op.is_authorized), None)
        return OrderClassification(status, authorization, deciding)
    return OrderClassification(status, None, deciding)


@dataclass(frozen=True)
class NpgOrder:
    operations: tuple[NpgOperation, ...] | None

    def classify(self) -> OrderClassification:
        return classify_order(self.operations)


@dataclass(frozen=True)
class NpgRefund:
    operation_id: str
    operation_time: str | None


def _headers(correlation_id: str, payment_type_code: str, psp_id: str) -> dict[str, str]:
    return {"Correlation-Id": correlation_id, "X-Api-Key": api_key(payment_type_code, psp_id)}


def _state(response: requests.Response) -> NpgState:
    body = json_object(response)
    operation = body.get("operation")
    return NpgState(body.get("state"), NpgOperation.from_json(operation) if operation is not None else None)


def _order(response: requests.Response) -> NpgOrder:
    operations = json_object(response).get("operations")
    if operations is None:
        return NpgOrder(None)
    if not isinstance(operations, list):
        raise TypeError("operations is not a list")
    return NpgOrder(tuple(NpgOperation.from_json(operation) for operation in operations))


def _refund(response: requests.Response) -> NpgRefund:
    body = json_object(response)
    if not isinstance(body.get("operationId"), str) or not body["operationId"]:
        raise ValueError("refund answer without operationId")
    return NpgRefund(body["operationId"], body.get("operationTime"))


def get_state(session_id: str, correlation_id: str, payment_type_code: str, psp_id: str) -> NpgState:
    """GET /psp/api/v1/build/state?sessionId=… (spec §5.8). Raises NpgError or ClientConfigurationError."""
    headers = _headers(correlation_id, payment_type_code, psp_id)
    return call(
        NPG,
        "get-state",
        "GET",
        "/psp/api/v1/build/state",
        params={"sessionId": session_id},
        headers=headers,
        parse=_state,
    )


def get_order(order_id: str, correlation_id: str, payment_type_code: str, psp_id: str) -> NpgOrder:
    """GET /psp/api/v1/orders/{orderId} (orderId = authorizationRequestId)."""
    headers = _headers(correlation_id, payment_type_code, psp_id)
    path = f"/psp/api/v1/orders/{quote(order_id, safe='')}"
    return call(NPG, "get-order", "GET", path, headers=headers, parse=_order)


def refund(
    operation_id: str,
    transaction_id: str,
    amount_cents: int,
    correlation_id: str,
    payment_type_code: str,
    psp_id: str,
) -> NpgRefund:
    """POST /psp/api/v1/operations/{operationId}/refunds for `amount_cents` (authorization amount + fee).

    The Idempotency-Key is the transaction id as a dashed UUID (either spelling is accepted), so a
    redelivered message cannot refund twice; the description names the same UUID, as the reference does.
    """
    idempotency_key = str(uuid.UUID(transaction_id))
    headers = {**_headers(correlation_id, payment_type_code, psp_id), "Idempotency-Key": idempotency_key}
    body = {
        "amount": str(amount_cents),
        "currency": "EUR",
        "description": f"Refund request for transactionId {idempotency_key} and operationId {operation_id}",
    }
    path = f"/psp/api/v1/operations/{quote(operation_id, safe='')}/refunds"
    return call(NPG, "refund", "POST", path, headers=headers, json_body=body, parse=_refund)
