"""What every client does the same way, proved on each of them against real loopback servers.

Timeouts and refused connections end in an error without status, retryable; an empty base URL sends
nothing; every call is timed and counted in statsd; no key, e-mail or fiscal code reaches a log line or
an error message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.transactions.clients_support import (
    SHORT_READ_TIMEOUT_MS,
    base_url,
    configure,
    metric_names,
    silent_base_url,  # noqa: F401 - fixture
    statsd_listener,  # noqa: F401 - fixture
    unused_base_url,
)
from transactions.clients import (
    ClientConfigurationError,
    ClientError,
    FailureReason,
    node_forwarder,
    nodo,
    notifications_service,
    npg,
    pdv,
    transactions_service,
    user_stats,
)

TRANSACTION_ID = "93cce28d3b7c4cb9975e6d856ecee89f"
EMAIL = "mario.rossi@example.org"
FISCAL_CODE = "RSSMRA80A01H501U"
SECRETS = {
    "NODO_NODEFORECOMMERCE_API_KEY": "nodo-secret-key-1",
    "NPG_API_KEY": "npg-default-secret-key-2",
    "NPG_CARDS_PSP_KEYS": {"BCITITMM": "npg-psp-secret-key-3"},
    "NOTIFICATIONS_SERVICE_API_KEY": "notifications-secret-key-4",
    "TRANSACTIONS_SERVICE_API_KEY": "transactions-secret-key-5",
    "ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY": "pdv-ecommerce-secret-key-6",
    "WALLET_SESSION_PERSONAL_DATA_VAULT_API_KEY": "pdv-wallet-secret-key-7",
    "NODE_FORWARDER_API_KEY": "forwarder-secret-key-8",
    "USER_STATS_API_KEY": "user-stats-secret-key-9",
}
SECRET_TEXTS = [
    "nodo-secret-key-1",
    "npg-default-secret-key-2",
    "npg-psp-secret-key-3",
    "notifications-secret-key-4",
    "transactions-secret-key-5",
    "pdv-ecommerce-secret-key-6",
    "pdv-wallet-secret-key-7",
    "forwarder-secret-key-8",
    "user-stats-secret-key-9",
    EMAIL,
    FISCAL_CODE,
]


@dataclass(frozen=True)
class ClientCase:
    service: str
    url_variable: str
    timeout_prefix: str
    method: str
    path: str
    invoke: Callable[[], Any]
    success_body: Any  # None: an empty 2xx answer
    success_status: int = 200

    def __str__(self) -> str:
        return self.invoke.__name__


def close_payment():
    return nodo.close_payment({"paymentTokens": ["token"], "outcome": "OK", "transactionId": TRANSACTION_ID})


def npg_get_state():
    return npg.get_state("session-1", "correlation-1", "CP", "BCITITMM")


def npg_get_order():
    return npg.get_order("order-1", "correlation-1", "CP", "BCITITMM")


def npg_refund():
    return npg.refund("operation-1", TRANSACTION_ID, 1200, "correlation-1", "CP", "BCITITMM")


def send_email():
    return notifications_service.send_email(EMAIL, "Il riepilogo del tuo pagamento", "it-IT", "success", {"a": 1})


def patch_auth_request():
    return transactions_service.patch_auth_request(TRANSACTION_ID, {"timestampOperation": "2023-01-01T00:00:00Z"})


def decrypt_email():
    return pdv.decrypt_email("email-token")


def decrypt_fiscal_code():
    return pdv.decrypt_fiscal_code("3fa85f64-5717-4562-b3fc-2c963f66afa6")


def save_last_payment_method():
    return user_stats.save_last_payment_method("3fa85f64-5717-4562-b3fc-2c963f66afa6", {"type": "guest"})


def refund_redirect():
    return node_forwarder.refund_redirect("https://psp.example.org/redirect", TRANSACTION_ID, "psp-tx-1")


CASES = [
    ClientCase("nodo", "NODO_URI", "NODO", "POST", "/closepayment", close_payment, {"outcome": "OK"}),
    ClientCase("npg", "NPG_URI", "NPG", "GET", "/psp/api/v1/build/state", npg_get_state, {"state": "READY"}),
    ClientCase("npg", "NPG_URI", "NPG", "GET", "/psp/api/v1/orders/order-1", npg_get_order, {"operations": []}),
    ClientCase(
        "npg",
        "NPG_URI",
        "NPG",
        "POST",
        "/psp/api/v1/operations/operation-1/refunds",
        npg_refund,
        {"operationId": "refund-op-1", "operationTime": "2023-01-01 10:00:00"},
    ),
    ClientCase(
        "notifications-service",
        "NOTIFICATIONS_SERVICE_URI",
        "NOTIFICATIONS_SERVICE",
        "POST",
        "/emails",
        send_email,
        None,
        202,
    ),
    ClientCase(
        "transactions-service",
        "TRANSACTIONS_SERVICE_URI",
        "TRANSACTIONS_SERVICE",
        "PATCH",
        f"/transactions/{TRANSACTION_ID}/auth-requests",
        patch_auth_request,
        {"status": "AUTHORIZATION_COMPLETED"},
    ),
    ClientCase(
        "pdv",
        "PERSONAL_DATA_VAULT_API_BASE_PATH",
        "PERSONAL_DATA_VAULT",
        "GET",
        "/tokens/email-token/pii",
        decrypt_email,
        {"pii": EMAIL},
    ),
    ClientCase(
        "pdv",
        "PERSONAL_DATA_VAULT_API_BASE_PATH",
        "PERSONAL_DATA_VAULT",
        "GET",
        "/tokens/3fa85f64-5717-4562-b3fc-2c963f66afa6/pii",
        decrypt_fiscal_code,
        {"pii": FISCAL_CODE},
    ),
    ClientCase(
        "user-stats",
        "USER_STATS_URL",
        "USER_STATS",
        "PUT",
        "/user/lastPaymentMethodUsed",
        save_last_payment_method,
        None,
        204,
    ),
    ClientCase(
        "node-forwarder",
        "NODE_FORWARDER_URL",
        "NODE_FORWARDER",
        "POST",
        "/forward",
        refund_redirect,
        {"idTransaction": TRANSACTION_ID, "outcome": "OK"},
    ),
]
PARSING_CASES = [case for case in CASES if case.success_body is not None]


def point_at(settings, case: ClientCase, url: str, **changes) -> None:
    configure(settings, **SECRETS, **{case.url_variable: url}, **changes)


def answer_success(httpserver, case: ClientCase) -> None:
    body = "" if case.success_body is None else json.dumps(case.success_body)
    httpserver.expect_request(case.path, method=case.method).respond_with_data(
        body, status=case.success_status, content_type="application/json"
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_read_timeout_is_a_retryable_error_without_status(settings, silent_base_url, case):  # noqa: F811
    point_at(settings, case, silent_base_url, **{f"{case.timeout_prefix}_READ_TIMEOUT": SHORT_READ_TIMEOUT_MS})

    with pytest.raises(ClientError) as raised:
        case.invoke()

    assert raised.value.reason == FailureReason.TIMEOUT
    assert raised.value.status is None
    assert raised.value.retryable
    assert raised.value.service == case.service
    assert str(raised.value).endswith("failed: timed out")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_refused_connection_is_a_retryable_error_without_status(settings, case):
    point_at(settings, case, unused_base_url())

    with pytest.raises(ClientError) as raised:
        case.invoke()

    assert raised.value.reason == FailureReason.CONNECTION
    assert raised.value.status is None
    assert raised.value.retryable


@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_empty_base_url_is_a_configuration_error_and_sends_nothing(settings, httpserver, case):
    point_at(settings, case, "")
    answer_success(httpserver, case)

    with pytest.raises(ClientConfigurationError, match=f"{case.url_variable} is empty") as raised:
        case.invoke()

    assert httpserver.log == []
    assert (raised.value.status, raised.value.retryable) == (None, True)


@pytest.mark.parametrize("case", PARSING_CASES, ids=str)
def test_an_unparsable_success_body_is_an_invalid_response_without_status(settings, httpserver, case):
    point_at(settings, case, base_url(httpserver))
    httpserver.expect_request(case.path, method=case.method).respond_with_data("<html>oops</html>", status=200)

    with pytest.raises(ClientError) as raised:
        case.invoke()

    assert raised.value.reason == FailureReason.INVALID_RESPONSE
    assert raised.value.status is None
    assert raised.value.retryable


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_successful_call_is_timed_and_counted_as_success(settings, httpserver, statsd_listener, case):  # noqa: F811
    point_at(settings, case, base_url(httpserver))
    answer_success(httpserver, case)

    case.invoke()

    metrics = metric_names(statsd_listener.receive(2))
    assert metrics == {f"{case.service}.request-time": "ms", f"{case.service}.success": "c"}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_failed_call_is_timed_and_counted_as_error(settings, httpserver, statsd_listener, case):  # noqa: F811
    point_at(settings, case, base_url(httpserver))
    httpserver.expect_request(case.path, method=case.method).respond_with_data("", status=500)

    with pytest.raises(ClientError):
        case.invoke()

    metrics = metric_names(statsd_listener.receive(2))
    assert metrics == {f"{case.service}.request-time": "ms", f"{case.service}.error": "c"}


def test_metric_lines_carry_the_environment_namespace(settings, httpserver, statsd_listener):  # noqa: F811
    point_at(settings, CASES[0], base_url(httpserver))
    answer_success(httpserver, CASES[0])

    close_payment()

    lines = statsd_listener.receive(2)
    namespace = f"{settings.DISPATCHER.ENVIRONMENT}.{settings.DISPATCHER.STATSD_NAMESPACE}"
    assert lines[0].startswith(f"{namespace}.clients.nodo.request-time:")
    assert lines[1] == f"{namespace}.clients.nodo.success:1|c"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_no_key_email_or_fiscal_code_reaches_logs_or_errors(settings, httpserver, caplog, case):
    point_at(settings, case, base_url(httpserver))
    caplog.set_level(logging.DEBUG)
    answer_success(httpserver, case)
    case.invoke()
    httpserver.clear()
    httpserver.expect_request(case.path, method=case.method).respond_with_json(
        {"outcome": "KO", "description": "rejected", "detail": "x"}, status=400
    )
    with pytest.raises(ClientError) as http_error:
        case.invoke()

    assert caplog.records, "the calls were logged"
    shown = caplog.text + str(http_error.value)
    for secret in SECRET_TEXTS:
        assert secret not in shown
