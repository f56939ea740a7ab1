"""Notifications service (spec §8.3): the mail request it receives; 200 and 202 succeed, anything else fails."""

import pytest

from tests.transactions.clients_support import base_url, configure, only_request
from transactions.clients.notifications_service import NotificationsServiceError, send_email

PARAMETERS = {"transaction": {"id": "93cce28d3b7c4cb9975e6d856ecee89f", "amount": "123,45"}, "user": {"data": None}}


@pytest.fixture
def service(settings, httpserver):
    configure(
        settings, NOTIFICATIONS_SERVICE_URI=base_url(httpserver) + "/v1", NOTIFICATIONS_SERVICE_API_KEY="mail-key"
    )
    return httpserver


@pytest.mark.parametrize("status", [200, 202])
def test_sends_the_mail_request_and_accepts_200_and_202(service, status):
    service.expect_request("/v1/emails", method="POST").respond_with_data("", status=status)

    send_email("mario.rossi@example.org", "Il riepilogo del tuo pagamento", "it-IT", "success", PARAMETERS)

    request = only_request(service)
    assert request.headers["ocp-apim-subscription-key"] == "mail-key"
    assert request.get_json() == {
        "to": "mario.rossi@example.org",
        "subject": "Il riepilogo del tuo pagamento",
        "language": "it-IT",
        "templateId": "success",
        "parameters": PARAMETERS,
    }


def test_non_ascii_text_arrives_intact(service):
    service.expect_request("/v1/emails").respond_with_data("", status=200)

    send_email("a@example.org", "Il pagamento non è riuscito", "it-IT", "ko", {})

    assert only_request(service).get_json()["subject"] == "Il pagamento non è riuscito"


@pytest.mark.parametrize("status", [201, 204, 400, 401, 404, 422, 500, 504])
def test_any_other_status_is_a_retryable_error(service, status):
    service.expect_request("/v1/emails").respond_with_json({"detail": "no"}, status=status)

    with pytest.raises(NotificationsServiceError) as raised:
        send_email("a@example.org", "s", "it-IT", "ko", {})

    assert raised.value.status == status
    assert raised.value.retryable
