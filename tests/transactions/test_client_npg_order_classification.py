"""What an NPG order's operations say about the authorization (spec §5.9.1), as a table of cases."""

import pytest

from transactions.clients.npg import NpgOperation, OrderStatus, classify_order


def op(operation_type, result, operation_id="op"):
    return NpgOperation.from_json(
        {"operationType": operation_type, "operationResult": result, "operationId": operation_id}
    )


AUTHORIZED = op("AUTHORIZATION", "EXECUTED", "auth-1")
REFUNDED = op("REFUND", "VOIDED", "refund-1")


@pytest.mark.parametrize(
    ("operations", "status", "authorization_id", "deciding_id"),
    [
        (None, OrderStatus.UNKNOWN, None, None),
        ([], OrderStatus.UNKNOWN, None, None),
        ([op("CAPTURE", "EXECUTED")], OrderStatus.UNKNOWN, None, None),
        ([op("REFUND", "FAILED")], OrderStatus.UNKNOWN, None, None),
        ([AUTHORIZED], OrderStatus.AUTHORIZED, "auth-1", "auth-1"),
        ([op("AUTHORIZATION", "PENDING", "p")], OrderStatus.PENDING, None, "p"),
        ([op("AUTHORIZATION", "DECLINED", "d")], OrderStatus.NOT_AUTHORIZED, None, "d"),
        ([op("AUTHORIZATION", "DENIED_BY_RISK", "d")], OrderStatus.NOT_AUTHORIZED, None, "d"),
        ([op("AUTHORIZATION", "FAILED", "f")], OrderStatus.NOT_AUTHORIZED, None, "f"),
        ([op("AUTHORIZATION", "PENDING", "p"), AUTHORIZED], OrderStatus.AUTHORIZED, "auth-1", "auth-1"),
        ([op("AUTHORIZATION", "DECLINED", "d"), AUTHORIZED], OrderStatus.AUTHORIZED, "auth-1", "auth-1"),
        # A later non-executed authorization does not undo an executed one.
        ([AUTHORIZED, op("AUTHORIZATION", "DECLINED", "d")], OrderStatus.AUTHORIZED, "auth-1", "auth-1"),
        ([AUTHORIZED, op("AUTHORIZATION", "PENDING", "p")], OrderStatus.AUTHORIZED, "auth-1", "auth-1"),
        ([AUTHORIZED, op("CAPTURE", "EXECUTED", "c")], OrderStatus.AUTHORIZED, "auth-1", "auth-1"),
        # Refunded wins, whatever comes after it, and keeps the authorization it finds.
        ([AUTHORIZED, REFUNDED], OrderStatus.REFUNDED, "auth-1", "refund-1"),
        ([REFUNDED, AUTHORIZED], OrderStatus.REFUNDED, "auth-1", "refund-1"),
        ([REFUNDED, op("AUTHORIZATION", "DECLINED")], OrderStatus.REFUNDED, None, "refund-1"),
        ([REFUNDED], OrderStatus.REFUNDED, None, "refund-1"),
        ([op("AUTHORIZATION", "EXECUTED", None)], OrderStatus.INVALID_RESPONSE, None, None),
        ([op("AUTHORIZATION", "EXECUTED", "")], OrderStatus.INVALID_RESPONSE, None, ""),
    ],
)
def test_operations_reduce_to_one_order_status(operations, status, authorization_id, deciding_id):
    result = classify_order(operations)

    assert result.status == status
    assert (result.authorization.operation_id if result.authorization else None) == authorization_id
    assert (result.deciding_operation.operation_id if result.deciding_operation else None) == deciding_id
