"""NPG GET order answers of every shape §5.9.1 classifies, for the refund and expiration tests."""

from tests.transactions.handlers.builders import ORDER_ID

ORDER_PATH = f"/npg/psp/api/v1/orders/{ORDER_ID}"
ORDER_OPERATION_ID = "order-operation-7"


def operation(operation_type="AUTHORIZATION", result="EXECUTED", operation_id=ORDER_OPERATION_ID):
    return {
        "orderId": ORDER_ID,
        "operationId": operation_id,
        "operationType": operation_type,
        "operationResult": result,
        "operationTime": "2023-09-25 14:45:00.123",
        "paymentEndToEndId": "order-e2e-7",
    }


ORDERS = {
    "authorized": {"operations": [operation()]},
    "authorized without operationId": {"operations": [operation(operation_id=None)]},
    "pending": {"operations": [operation(result="PENDING")]},
    "not authorized": {"operations": [operation(result="DECLINED")]},
    "refunded": {"operations": [operation(), operation("REFUND", "VOIDED", "refund-operation")]},
    "empty": {"operations": []},
}

AUTHORIZATION_FROM_ORDER = {
    "type": "NPG",
    "operationResult": "EXECUTED",
    "operationId": ORDER_OPERATION_ID,
    "paymentEndToEndId": "order-e2e-7",
    "errorCode": None,
    "validationServiceId": None,
}


def npg_order_answers(httpserver, shape: str) -> None:
    """Answer GET order with the named shape, or with an HTTP status ("404", "500")."""
    handler = httpserver.expect_request(ORDER_PATH, method="GET")
    if shape.isdigit():
        handler.respond_with_json({"errors": [{"code": shape}]}, status=int(shape))
    else:
        handler.respond_with_json(ORDERS[shape])
