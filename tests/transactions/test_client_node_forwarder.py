"""Node forwarder (spec §8.7): a redirect refund is forwarded to `<url>/refunds` with the forwarding headers."""

import pytest

from tests.transactions.clients_support import base_url, configure, only_request
from transactions.clients import ClientConfigurationError, FailureReason
from transactions.clients.node_forwarder import (
    NodeForwarderError,
    RedirectRefundOutcome,
    forwarding_headers,
    refund_redirect,
)

TRANSACTION_ID = "93cce28d3b7c4cb9975e6d856ecee89f"


@pytest.fixture
def forwarder(settings, httpserver):
    configure(settings, NODE_FORWARDER_URL=base_url(httpserver) + "/api/v1", NODE_FORWARDER_API_KEY="forwarder-key")
    return httpserver


def test_forwards_the_refund_to_the_psp(forwarder):
    forwarder.expect_request("/api/v1/forward", method="POST").respond_with_json(
        {"idTransaction": TRANSACTION_ID, "outcome": "OK"}
    )

    outcome = refund_redirect("https://psp.example.org:8443/redirections/v1/", TRANSACTION_ID, "psp-tx-1")

    assert outcome == RedirectRefundOutcome.OK
    request = only_request(forwarder)
    assert request.headers["X-Host-Url"] == "psp.example.org"
    assert request.headers["X-Host-Port"] == "8443"
    assert request.headers["X-Host-Path"] == "/redirections/v1/refunds"
    assert request.headers["X-Request-Id"] == TRANSACTION_ID
    assert request.headers["Ocp-Apim-Subscription-Key"] == "forwarder-key"
    assert request.get_json() == {"action": "refund", "idPSPTransaction": "psp-tx-1", "idTransaction": TRANSACTION_ID}


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("https://psp.example.org/refunds", "psp.example.org", "443", "/refunds"),
        ("http://psp.example.org/a/refunds", "psp.example.org", "80", "/a/refunds"),
        ("https://psp.example.org:9443/b/refunds", "psp.example.org", "9443", "/b/refunds"),
    ],
)
def test_the_port_defaults_by_scheme(url, host, port, path):
    assert forwarding_headers(url) == {"X-Host-Url": host, "X-Host-Port": port, "X-Host-Path": path}


def test_a_redirect_url_without_host_is_a_configuration_error(forwarder):
    with pytest.raises(ClientConfigurationError):
        refund_redirect("/relative/only", TRANSACTION_ID, "psp-tx-1")
    assert forwarder.log == []


@pytest.mark.parametrize("outcome", ["OK", "KO", "CANCELED"])
def test_returns_the_psp_outcome(forwarder, outcome):
    forwarder.expect_request("/api/v1/forward").respond_with_json({"idTransaction": TRANSACTION_ID, "outcome": outcome})

    assert refund_redirect("https://psp.example.org", TRANSACTION_ID, "psp-tx-1") == RedirectRefundOutcome(outcome)


def test_an_unknown_outcome_is_invalid(forwarder):
    forwarder.expect_request("/api/v1/forward").respond_with_json({"idTransaction": TRANSACTION_ID, "outcome": "MAYBE"})

    with pytest.raises(NodeForwarderError) as raised:
        refund_redirect("https://psp.example.org", TRANSACTION_ID, "psp-tx-1")

    assert raised.value.reason == FailureReason.INVALID_RESPONSE


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (404, False), (422, False), (500, True), (504, True)]
)
def test_server_errors_are_retryable_and_client_errors_blocking(forwarder, status, retryable):
    forwarder.expect_request("/api/v1/forward").respond_with_json({"error": "x"}, status=status)

    with pytest.raises(NodeForwarderError) as raised:
        refund_redirect("https://psp.example.org", TRANSACTION_ID, "psp-tx-1")

    assert (raised.value.status, raised.value.retryable) == (status, retryable)
