"""NPG (spec §8.2): requests as NPG receives them, api key per payment method and PSP, error classes."""

from datetime import datetime, timedelta

import pytest

from tests.transactions.clients_support import base_url, configure, only_request
from transactions.clients import ClientConfigurationError, FailureReason
from transactions.clients.npg import (
    InvalidNpgResponse,
    NpgError,
    NpgOperation,
    NpgPaymentNotComplete,
    NpgRefund,
    OrderStatus,
    api_key,
    get_order,
    get_state,
    refund,
)

TRANSACTION_ID = "93cce28d3b7c4cb9975e6d856ecee89f"
DASHED_TRANSACTION_ID = "93cce28d-3b7c-4cb9-975e-6d856ecee89f"
KEYS = {
    "NPG_CARDS_PSP_KEYS": {"BCITITMM": "cards-bcit-key", "UNCRITMM": "cards-uncr-key"},
    "NPG_PAYPAL_PSP_KEYS": {"BCITITMM": "paypal-bcit-key"},
    "NPG_MYBANK_PSP_KEYS": {"BCITITMM": "mybank-key"},
    "NPG_GOOGLEPAY_PSP_KEYS": {"PSPG": "google-key"},
    "NPG_APPLEPAY_PSP_KEYS": {"PSPA": "apple-key"},
    "NPG_BANCOMATPAY_PSP_KEYS": {"PSPB": "bpay-key"},
    "NPG_SATISPAY_PSP_KEYS": {"SATYLUL1": "satispay-key"},
}
AUTHORIZATION = {
    "orderId": "order-1",
    "operationId": "operation-1",
    "operationType": "AUTHORIZATION",
    "operationResult": "EXECUTED",
    "operationTime": "2023-08-10 12:30:45.123",
    "paymentEndToEndId": "e2e-1",
    "additionalData": {"authorizationCode": "123456", "rrn": "rrn-1", "cardId4": "abcd"},
}


@pytest.fixture
def npg(settings, httpserver):
    configure(settings, NPG_URI=base_url(httpserver) + "/api/phoenix-0.0", **KEYS)
    return httpserver


@pytest.mark.parametrize(
    ("type_code", "psp", "key"),
    [
        ("CP", "BCITITMM", "cards-bcit-key"),
        ("CP", "UNCRITMM", "cards-uncr-key"),
        ("PPAL", "BCITITMM", "paypal-bcit-key"),
        ("MYBK", "BCITITMM", "mybank-key"),
        ("GOOG", "PSPG", "google-key"),
        ("APPL", "PSPA", "apple-key"),
        ("BPAY", "PSPB", "bpay-key"),
        ("SATY", "SATYLUL1", "satispay-key"),
    ],
)
def test_the_api_key_is_chosen_by_payment_method_and_psp(settings, type_code, psp, key):
    configure(settings, **KEYS)

    assert api_key(type_code, psp) == key


def test_an_unknown_psp_is_a_configuration_error_sent_nowhere(npg):
    with pytest.raises(ClientConfigurationError) as raised:
        get_state("session-1", "correlation-1", "PPAL", "UNCRITMM")

    assert str(raised.value) == "npg api-key failed: not configured (NPG_PAYPAL_PSP_KEYS has no key for PSP UNCRITMM)"
    assert npg.log == []


def test_a_type_code_without_npg_method_is_a_configuration_error(npg):
    with pytest.raises(ClientConfigurationError, match="no NPG payment method for type code RBPS"):
        get_order("order-1", "correlation-1", "RBPS", "BCITITMM")
    assert npg.log == []


def test_get_state_sends_session_correlation_and_psp_key(npg):
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/build/state").respond_with_json(
        {"state": "PAYMENT_COMPLETE", "operation": AUTHORIZATION}
    )

    state = get_state("session-1", "correlation-1", "CP", "UNCRITMM")

    request = only_request(npg)
    assert request.method == "GET"
    assert request.args.to_dict() == {"sessionId": "session-1"}
    assert request.headers["Correlation-Id"] == "correlation-1"
    assert request.headers["X-Api-Key"] == "cards-uncr-key"
    assert state.state == "PAYMENT_COMPLETE"
    operation = state.completed_operation()
    assert operation.operation_id == "operation-1"
    assert operation.additional_data["authorizationCode"] == "123456"
    assert operation.operation_time_cet().utcoffset() == timedelta(hours=2)
    assert operation.operation_time_cet().replace(tzinfo=None) == datetime(2023, 8, 10, 12, 30, 45, 123000)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"state": "PAYMENT_COMPLETE"}, InvalidNpgResponse),
        ({"state": "PAYMENT_COMPLETE", "operation": {**AUTHORIZATION, "operationTime": None}}, InvalidNpgResponse),
        ({"state": "PAYMENT_COMPLETE", "operation": {**AUTHORIZATION, "operationResult": None}}, InvalidNpgResponse),
        (
            {"state": "PAYMENT_COMPLETE", "operation": {**AUTHORIZATION, "operationTime": "yesterday"}},
            InvalidNpgResponse,
        ),
        ({"state": "GDI_VERIFICATION", "operation": AUTHORIZATION}, NpgPaymentNotComplete),
        ({"state": "READY_FOR_PAYMENT"}, InvalidNpgResponse),
    ],
)
def test_a_state_that_is_not_a_complete_payment_is_a_retryable_error(npg, body, error):
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/build/state").respond_with_json(body)
    state = get_state("session-1", "correlation-1", "CP", "BCITITMM")

    with pytest.raises(error) as raised:
        state.completed_operation()

    assert raised.value.status is None
    assert raised.value.retryable


def test_get_order_reads_the_operations(npg):
    refund_operation = {"operationId": "refund-1", "operationType": "REFUND", "operationResult": "VOIDED"}
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/orders/order-1", method="GET").respond_with_json(
        {"orderStatus": {"lastOperationType": "REFUND"}, "operations": [AUTHORIZATION, refund_operation]}
    )

    order = get_order("order-1", "correlation-1", "CP", "BCITITMM")

    request = only_request(npg)
    assert request.headers["Correlation-Id"] == "correlation-1"
    assert request.headers["X-Api-Key"] == "cards-bcit-key"
    assert order.operations == (NpgOperation.from_json(AUTHORIZATION), NpgOperation.from_json(refund_operation))
    classification = order.classify()
    assert classification.status == OrderStatus.REFUNDED
    assert classification.authorization.operation_id == "operation-1"


def test_an_order_without_operations_is_unknown(npg):
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/orders/order-1").respond_with_json({"orderStatus": {}})

    order = get_order("order-1", "correlation-1", "CP", "BCITITMM")

    assert order.operations is None
    assert order.classify().status == OrderStatus.UNKNOWN


def test_refund_sends_the_exact_body_and_idempotency_key(npg):
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/operations/operation-1/refunds", method="POST").respond_with_json(
        {"operationId": "refund-operation-1", "operationTime": "2023-08-10 12:31:00"}
    )

    result = refund("operation-1", TRANSACTION_ID, 12345, "correlation-1", "SATY", "SATYLUL1")

    request = only_request(npg)
    assert request.headers["Correlation-Id"] == "correlation-1"
    assert request.headers["X-Api-Key"] == "satispay-key"
    assert request.headers["Idempotency-Key"] == DASHED_TRANSACTION_ID
    assert request.get_json() == {
        "amount": "12345",
        "currency": "EUR",
        "description": f"Refund request for transactionId {DASHED_TRANSACTION_ID} and operationId operation-1",
    }
    assert result == NpgRefund("refund-operation-1", "2023-08-10 12:31:00")


def test_a_refund_answer_without_operation_id_is_invalid(npg):
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/operations/operation-1/refunds").respond_with_json({})

    with pytest.raises(NpgError) as raised:
        refund("operation-1", TRANSACTION_ID, 100, "correlation-1", "CP", "BCITITMM")

    assert raised.value.reason == FailureReason.INVALID_RESPONSE


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (422, False), (500, True), (502, True), (504, True)],
)
def test_server_errors_are_retryable_and_other_statuses_blocking(npg, status, retryable):
    error_body = {"errors": [{"code": "PGS0001", "description": "nope"}]}
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/operations/operation-1/refunds").respond_with_json(
        error_body, status=status
    )

    with pytest.raises(NpgError) as raised:
        refund("operation-1", TRANSACTION_ID, 100, "correlation-1", "CP", "BCITITMM")

    assert raised.value.status == status
    assert raised.value.retryable is retryable
    assert raised.value.body == error_body
    assert str(raised.value) == f"npg refund failed: HTTP {status}"


def test_get_state_errors_carry_their_status(npg):
    npg.expect_request("/api/phoenix-0.0/psp/api/v1/build/state").respond_with_data("", status=404)

    with pytest.raises(NpgError) as raised:
        get_state("session-1", "correlation-1", "CP", "BCITITMM")

    assert (raised.value.status, raised.value.retryable, raised.value.body) == (404, False, None)
