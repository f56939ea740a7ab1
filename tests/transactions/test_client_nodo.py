"""Nodo closePaymentV2 (spec §8.1): the request Nodo receives, its outcomes, and how its errors classify (§5.1)."""

from decimal import Decimal

import pytest

from tests.transactions.clients_support import (
    SHORT_READ_TIMEOUT_MS,
    base_url,
    configure,
    only_request,
    slow_handler,
    wait_until_answered,
)
from transactions.clients import FailureReason
from transactions.clients.nodo import ClosePaymentOutcome, NodoError, close_payment

REQUEST_BODY = {
    "paymentTokens": ["token-1", "token-2"],
    "outcome": "OK",
    "transactionId": "93cce28d3b7c4cb9975e6d856ecee89f",
    "totalAmount": Decimal("123.45"),
    "fee": Decimal("1.00"),
    "transactionDetails": {"transaction": {"amount": 12245, "grandTotal": 12345}},
}


@pytest.fixture
def nodo(settings, httpserver):
    configure(
        settings,
        NODO_URI=base_url(httpserver) + "/nodo-auth/node-for-ecommerce/v2",
        NODO_ECOMMERCE_CLIENT_ID="ecomm-blue",
        NODO_NODEFORECOMMERCE_API_KEY="nodo-key",
    )
    return httpserver


def answer(httpserver, status, body=None, data=None):
    handler = httpserver.expect_request("/nodo-auth/node-for-ecommerce/v2/closepayment", method="POST")
    if body is not None:
        handler.respond_with_json(body, status=status)
    else:
        handler.respond_with_data(data or "", status=status)


def test_posts_the_body_with_client_id_and_subscription_key(nodo):
    answer(nodo, 200, {"outcome": "OK"})

    close_payment(REQUEST_BODY)

    request = only_request(nodo)
    assert request.method == "POST"
    assert request.path == "/nodo-auth/node-for-ecommerce/v2/closepayment"
    assert request.args.to_dict() == {"clientId": "ecomm-blue"}
    assert request.headers["ocp-apim-subscription-key"] == "nodo-key"
    assert request.headers["Content-Type"] == "application/json"
    assert request.get_json() == {**REQUEST_BODY, "totalAmount": 123.45, "fee": 1.0}
    # Euro amounts keep two decimals on the wire, as BigDecimal amounts do in the reference.
    assert b'"totalAmount":123.45,"fee":1.00,' in request.get_data()


@pytest.mark.parametrize("outcome", ["OK", "KO"])
def test_returns_nodos_outcome(nodo, outcome):
    answer(nodo, 200, {"outcome": outcome})

    assert close_payment(REQUEST_BODY) == ClosePaymentOutcome(outcome)


@pytest.mark.parametrize("body", [{"outcome": "MAYBE"}, {}, ["OK"]])
def test_a_success_without_a_known_outcome_is_an_invalid_response(nodo, body):
    answer(nodo, 200, body)

    with pytest.raises(NodoError) as raised:
        close_payment(REQUEST_BODY)

    assert raised.value.reason == FailureReason.INVALID_RESPONSE
    assert raised.value.retryable


@pytest.mark.parametrize(
    ("status", "description", "refundable", "retryable", "status_name"),
    [
        (400, "Some other problem", True, False, "BAD_REQUEST"),
        (400, None, True, False, "BAD_REQUEST"),
        (400, "Invalid token", False, False, "BAD_REQUEST"),
        (401, None, False, False, "UNAUTHORIZED"),
        (404, "Unknown", True, False, "NOT_FOUND"),
        (409, None, False, False, "CONFLICT"),
        (422, "Node did not receive RPT yet", True, False, "UNPROCESSABLE_ENTITY"),
        (422, "Something else", False, False, "UNPROCESSABLE_ENTITY"),
        (500, "Internal", False, True, "INTERNAL_SERVER_ERROR"),
        (502, None, False, True, "BAD_GATEWAY"),
        (504, None, False, True, "GATEWAY_TIMEOUT"),
    ],
)
def test_error_statuses_follow_the_closure_policy(nodo, status, description, refundable, retryable, status_name):
    body = {"outcome": "KO", "description": description} if description else {"outcome": "KO"}
    answer(nodo, status, body)

    with pytest.raises(NodoError) as raised:
        close_payment(REQUEST_BODY)

    error = raised.value
    assert (error.status, error.description) == (status, description)
    assert error.body == body
    assert (error.refundable, error.retryable) == (refundable, retryable)
    assert error.closure_error_data == {
        "httpErrorCode": status_name,
        "errorDescription": description,
        "errorType": "KO_RESPONSE_RECEIVED",
    }


def test_an_unparsable_error_body_keeps_the_status_without_description(nodo):
    answer(nodo, 400, data="<html>Bad Request</html>")

    with pytest.raises(NodoError) as raised:
        close_payment(REQUEST_BODY)

    assert raised.value.status == 400
    assert raised.value.body is None
    assert raised.value.description is None
    assert raised.value.refundable


def test_the_description_is_part_of_the_error_text(nodo):
    answer(nodo, 422, {"outcome": "KO", "description": "Node did not receive RPT yet"})

    with pytest.raises(NodoError, match="nodo close-payment failed: HTTP 422: Node did not receive RPT yet"):
        close_payment(REQUEST_BODY)


def test_a_slow_answer_is_a_communication_error(settings, nodo):
    configure(settings, NODO_READ_TIMEOUT=SHORT_READ_TIMEOUT_MS)
    nodo.expect_request("/nodo-auth/node-for-ecommerce/v2/closepayment").respond_with_handler(slow_handler)

    with pytest.raises(NodoError) as raised:
        close_payment(REQUEST_BODY)
    wait_until_answered(nodo)

    assert raised.value.reason == FailureReason.TIMEOUT
    assert raised.value.retryable
    assert not raised.value.refundable
    assert raised.value.closure_error_data == {
        "httpErrorCode": None,
        "errorDescription": None,
        "errorType": "COMMUNICATION_ERROR",
    }
