"""Reading what a refund needs from the transaction and from NPG: the authorization request, the
NPG order and its correlation id, the authorization data a refund event carries."""

from __future__ import annotations

from receivers.handlers import DeadLetterCategory, HandlerError
from transactions import events as ev
from transactions.clients import npg
from transactions.reduction import TransactionState


def authorization_request(state: TransactionState) -> ev.TransactionAuthorizationRequestData:
    request = state.authorization_request_data
    if request is None:
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"transaction {state.transaction_id}: no authorization was requested, nothing to refund",
        )
    return request


def npg_authorization(operation: npg.NpgOperation) -> ev.NpgTransactionGatewayAuthorizationData:
    return ev.NpgTransactionGatewayAuthorizationData(
        operation_result=ev.NpgOperationResult(operation.operation_result),
        operation_id=operation.operation_id,
        payment_end_to_end_id=operation.payment_end_to_end_id,
        error_code=None,
        validation_service_id=None,
    )


def get_order(state: TransactionState) -> npg.NpgOrder:
    request = state.authorization_request_data
    return npg.get_order(
        request.authorization_request_id,
        correlation_id(state),
        request.payment_type_code.value,
        request.psp_id,
    )


def correlation_id(state: TransactionState) -> str:
    activation = state.activation_data.transaction_gateway_activation_data
    if not isinstance(activation, ev.NpgTransactionGatewayActivationData):
        raise ValueError(f"transaction {state.transaction_id} has no NPG activation data (correlation id)")
    return activation.correlation_id
