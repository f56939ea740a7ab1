"""User stats (spec §8.6): the last used payment method is PUT; 204 is success, errors are reported."""

import pytest

from tests.transactions.clients_support import base_url, configure, only_request
from transactions.clients.user_stats import UserStatsError, save_last_payment_method

USER_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
WALLET_DETAILS = {"type": "wallet", "walletId": "wallet-1", "date": "2023-08-10T10:30:45.123Z"}


@pytest.fixture
def stats(settings, httpserver):
    configure(settings, USER_STATS_URL=base_url(httpserver) + "/stats/v1", USER_STATS_API_KEY="stats-key")
    return httpserver


def test_puts_user_and_details(stats):
    stats.expect_request("/stats/v1/user/lastPaymentMethodUsed", method="PUT").respond_with_data("", status=204)

    save_last_payment_method(USER_ID, WALLET_DETAILS)

    request = only_request(stats)
    assert request.headers["Ocp-Apim-Subscription-Key"] == "stats-key"
    assert request.get_json() == {"userId": USER_ID, "details": WALLET_DETAILS}


@pytest.mark.parametrize("status", [400, 401, 404, 422, 500, 504])
def test_an_error_status_is_reported(stats, status):
    stats.expect_request("/stats/v1/user/lastPaymentMethodUsed").respond_with_data("", status=status)

    with pytest.raises(UserStatsError) as raised:
        save_last_payment_method(USER_ID, {"type": "guest", "paymentMethodId": "pm-1", "date": "2023-01-01T00:00Z"})

    assert raised.value.status == status
