"""The transactions service's PATCH auth-requests bodies (spec Part B §5.8, §8.4), as pure data.

Two sources of an authorization outcome:
- `body_from_npg_state`: NPG's getState answer for a transaction still at AUTHORIZATION_REQUESTED;
  its operationTime has no offset and is read in zone CET (with daylight saving time);
- `body_from_completed_authorization`: the AUTHORIZATION_COMPLETED event already stored (the
  transaction moved on, but the transactions service may not know it yet).
A gateway that is neither NPG nor REDIRECT raises `InvalidPaymentGateway`, which is not retried.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from transactions import events as ev
from transactions.clients.npg import NpgOperation
from transactions.reduction import TransactionState

# Keys of NPG's additionalData copied into the outcome under the same name.
NPG_ADDITIONAL_DATA_KEYS = ("authorizationCode", "rrn", "validationServiceId", "errorCode", "cardId4")


class InvalidPaymentGateway(ValueError):
    """The transaction's gateway has no authorization outcome the transactions service accepts."""


def offset_timestamp(moment: datetime) -> str:
    """An OffsetDateTime as Jackson writes it: ISO 8601 with offset, milliseconds only when present.

    The instant is re-read in its zone, so a local time that does not exist (the spring-forward
    hour) comes out as the real wall-clock time, as java.time shifts it: 02:30 on the last Sunday of
    March in CET is written 03:30+02:00.
    """
    zone = moment.tzinfo
    moment = moment.astimezone(UTC).astimezone(zone)
    if moment.microsecond == 0:
        return moment.isoformat()
    if moment.microsecond % 1000 == 0:
        return moment.isoformat(timespec="milliseconds")
    return moment.isoformat(timespec="microseconds")


def body_from_npg_state(operation: NpgOperation) -> dict[str, Any]:
    """The PATCH body for a complete NPG payment (the operation of `NpgState.completed_operation()`)."""
    additional = operation.additional_data or {}
    outcome = {
        "paymentGatewayType": "NPG",
        "operationResult": operation.operation_result,
        "orderId": operation.order_id,
        "operationId": operation.operation_id,
        **{key: additional.get(key) for key in NPG_ADDITIONAL_DATA_KEYS},
        "paymentEndToEndId": operation.payment_end_to_end_id,
    }
    return {"outcomeGateway": outcome, "timestampOperation": offset_timestamp(operation.operation_time_cet())}


def body_from_completed_authorization(state: TransactionState) -> dict[str, Any]:
    """The PATCH body repeating the stored authorization outcome of `state`."""
    request = state.authorization_request_data
    completed = state.authorization_completed_data
    if request is None or completed is None:
        raise ValueError(f"transaction {state.transaction_id} has no completed authorization")
    gateway = completed.transaction_gateway_authorization_data
    if isinstance(gateway, ev.NpgTransactionGatewayAuthorizationData):
        outcome = {
            "paymentGatewayType": "NPG",
            "operationResult": gateway.operation_result.value,
            "orderId": request.authorization_request_id,
            "operationId": gateway.operation_id,
            "authorizationCode": completed.authorization_code,
            "rrn": completed.rrn,
            "validationServiceId": gateway.validation_service_id,
            "errorCode": gateway.error_code,
            "cardId4": None,
            "paymentEndToEndId": gateway.payment_end_to_end_id,
        }
    elif isinstance(gateway, ev.RedirectTransactionGatewayAuthorizationData):
        outcome = {"paymentGatewayType": "REDIRECT", "outcome": gateway.outcome.value, "errorCode": gateway.error_code}
    else:
        raise InvalidPaymentGateway(
            f"transaction {state.transaction_id}: {request.payment_gateway} authorization data ({gateway.TYPE}) "
            "cannot be sent to the transactions service"
        )
    return {"outcomeGateway": outcome, "timestampOperation": completed.timestamp_operation}
