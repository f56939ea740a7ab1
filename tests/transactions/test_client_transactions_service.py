"""Transactions service PATCH auth-requests (spec §8.4): the request, the answer, and which errors block."""

import pytest

from tests.transactions.clients_support import base_url, configure, only_request
from transactions.clients import FailureReason
from transactions.clients.transactions_service import TransactionsServiceError, patch_auth_request

TRANSACTION_ID = "93cce28d3b7c4cb9975e6d856ecee89f"
BODY = {
    "outcomeGateway": {"paymentGatewayType": "NPG", "operationResult": "EXECUTED", "orderId": "order-1"},
    "timestampOperation": "2023-08-10T12:30:45.123+02:00",
}
PATH = f"/v2/transactions/{TRANSACTION_ID}/auth-requests"


@pytest.fixture
def service(settings, httpserver):
    configure(settings, TRANSACTIONS_SERVICE_URI=base_url(httpserver) + "/v2", TRANSACTIONS_SERVICE_API_KEY="tx-key")
    return httpserver


def test_patches_the_auth_request_and_returns_the_new_status(service):
    service.expect_request(PATH, method="PATCH").respond_with_json({"status": "AUTHORIZATION_COMPLETED"})

    assert patch_auth_request(TRANSACTION_ID, BODY) == "AUTHORIZATION_COMPLETED"

    request = only_request(service)
    assert request.method == "PATCH"
    assert request.headers["Ocp-Apim-Subscription-Key"] == "tx-key"
    assert request.get_json() == BODY


def test_an_answer_without_status_is_invalid(service):
    service.expect_request(PATH).respond_with_json({"state": "x"})

    with pytest.raises(TransactionsServiceError) as raised:
        patch_auth_request(TRANSACTION_ID, BODY)

    assert raised.value.reason == FailureReason.INVALID_RESPONSE


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (401, False), (404, False), (409, True), (422, True), (500, True), (502, True), (504, True)],
)
def test_400_401_404_block_and_every_other_status_is_retryable(service, status, retryable):
    service.expect_request(PATH).respond_with_json({"title": "x"}, status=status)

    with pytest.raises(TransactionsServiceError) as raised:
        patch_auth_request(TRANSACTION_ID, BODY)

    assert (raised.value.status, raised.value.retryable) == (status, retryable)
