"""The provider clients against real stand-ins: what Firetext, MMG (loopback HTTP) and SES (moto's server)
receive, what their answers mean, and the `clients.<provider>.*` metrics (Part A §7, Part B §4.4, §5)."""

import base64
import time

import pytest
from werkzeug import Response

from notifications.providers import firetext_client, mmg_client, ses_client
from notifications.providers.clients import ProviderError, international_digits
from tests.notifications.conftest import FIRETEXT_KEY, MMG_PASSWORD, MMG_USER, configure
from tests.receivers.conftest import wait_until


@pytest.fixture
def metrics(statsd_listener, sms_providers):
    """statsd first, then the providers' configuration on top of it."""
    return statsd_listener


def client_metrics(listener, provider: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, _, kind in listener.metrics() if name.startswith(f"clients.{provider}.")]


@pytest.mark.parametrize(
    ("number", "digits"),
    [("07700 900123", "447700900123"), ("+44 7700 900123", "447700900123"), ("0039 333 1234567", "393331234567")],
)
def test_numbers_go_to_providers_as_international_digits(number, digits):
    assert international_digits(number) == digits


# --- Firetext ---------------------------------------------------------------------------------------


def test_firetext_gets_a_form_with_the_notification_id_as_reference(metrics, sms_providers):
    sms_providers.expect_request("/firetext", method="POST").respond_with_json(
        {"code": 0, "description": "SMS successfully queued"}
    )

    reference = firetext_client.send_sms("07700 900123", "Hello Ada", "4b7e…-id", "SERVICE")

    [(request, _)] = sms_providers.log
    assert request.form.to_dict() == {
        "apiKey": FIRETEXT_KEY,
        "from": "SERVICE",
        "to": "447700900123",
        "message": "Hello Ada",
        "reference": "4b7e…-id",
    }
    assert reference == ""
    assert client_metrics(metrics, "firetext") == [
        ("clients.firetext.request-time", "ms"),
        ("clients.firetext.success", "c"),
    ]


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        ({"code": 1, "description": "Authentication error"}, 200, "firetext: Firetext error 1: Authentication error"),
        ({"code": "4", "description": "Invalid to number"}, 200, "firetext: Firetext error 4: Invalid to number"),
        ({"description": "no code"}, 200, "firetext: answer has no code"),
        ({"code": 0}, 500, "firetext: HTTP 500"),
    ],
)
def test_firetext_errors_carry_its_code_and_description(metrics, sms_providers, answer, status, detail):
    sms_providers.expect_request("/firetext").respond_with_json(answer, status=status)

    with pytest.raises(ProviderError) as raised:
        firetext_client.send_sms("07700900123", "Hello", "ref", "S")

    assert str(raised.value) == detail
    assert client_metrics(metrics, "firetext") == [
        ("clients.firetext.request-time", "ms"),
        ("clients.firetext.error", "c"),
    ]


def test_firetext_timeouts_are_errors_timed_like_any_call(metrics, sms_providers, settings):
    configure(settings, FIRETEXT_READ_TIMEOUT=200)
    sms_providers.expect_request("/firetext").respond_with_handler(
        lambda request: time.sleep(0.5) or Response('{"code": 0}', content_type="application/json")
    )

    with pytest.raises(ProviderError, match="timed out"):
        firetext_client.send_sms("07700900123", "Hello", "ref", "S")

    timing = next(float(v) for name, v, kind in metrics.metrics() if name == "clients.firetext.request-time")
    assert 200 <= timing < 500
    wait_until(lambda: sms_providers.log, "the stand-in to finish the abandoned request")


def test_firetext_is_configured_by_url_and_key(settings):
    configure(settings, FIRETEXT_URL="http://127.0.0.1:9/", FIRETEXT_API_KEY="")
    assert not firetext_client.configured()
    configure(settings, FIRETEXT_API_KEY="key")
    assert firetext_client.configured()


# --- MMG --------------------------------------------------------------------------------------------


def test_mmg_gets_json_with_basic_auth_and_answers_its_reference(metrics, sms_providers):
    sms_providers.expect_request("/mmg", method="POST").respond_with_json({"Reference": "mmg-ref-1"})

    reference = mmg_client.send_sms("+44 7700 900123", "Hello Ada", "notification-id", "SERVICE")

    [(request, _)] = sms_providers.log
    assert request.get_json() == {
        "reqType": "BULK",
        "MSISDN": "447700900123",
        "msg": "Hello Ada",
        "sender": "SERVICE",
        "cid": "notification-id",
        "multi": True,
    }
    credentials = base64.b64encode(f"{MMG_USER}:{MMG_PASSWORD}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert reference == "mmg-ref-1"
    assert client_metrics(metrics, "mmg") == [("clients.mmg.request-time", "ms"), ("clients.mmg.success", "c")]


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        ({"Error": 206, "Description": "Invalid MSISDN"}, 400, "mmg: MMG error 206: Invalid MSISDN"),
        ("not json", 503, "mmg: HTTP 503"),
        ({"Status": "ok"}, 200, "mmg: answer has no Reference"),
    ],
)
def test_mmg_errors(metrics, sms_providers, answer, status, detail):
    if isinstance(answer, dict):
        sms_providers.expect_request("/mmg").respond_with_json(answer, status=status)
    else:
        sms_providers.expect_request("/mmg").respond_with_data(answer, status=status)

    with pytest.raises(ProviderError) as raised:
        mmg_client.send_sms("07700900123", "Hello", "ref", "S")

    assert str(raised.value) == detail
    assert ("clients.mmg.error", "c") in client_metrics(metrics, "mmg")


# --- SES --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "email_from", "source"),
    [
        ("Test service", "test.service@elsewhere.example", '"Test service" <test.service@notifications.localhost>'),
        ("Comune di Forlì", "comune", '"Comune di Forl" <comune@notifications.localhost>'),
        ('Evil "name"\r\nBcc: x', "evil@x", '"Evil nameBcc: x" <evil@notifications.localhost>'),
    ],
)
def test_the_source_is_the_service_name_and_local_part_at_the_notify_domain(name, email_from, source):
    assert ses_client.source_address(name, email_from, "notifications.localhost") == source


def test_ses_gets_source_recipient_text_html_and_reply_to(statsd_listener, ses):
    message_id = ses_client.send_email(
        '"Test service" <test.service@notifications.localhost>',
        "ada@example.com",
        "Il riepilogo del tuo pagamento",
        "Testo è",
        "<p>HTML è</p>",
        "help@example.com",
    )

    [accepted] = ses.messages()
    assert accepted["id"] == message_id
    assert accepted["destinations"] == {"ToAddresses": ["ada@example.com"], "CcAddresses": [], "BccAddresses": []}
    [request] = ses.send_email_requests()
    assert request["Source"] == '"Test service" <test.service@notifications.localhost>'
    assert request["Message.Subject.Data"] == "Il riepilogo del tuo pagamento"
    assert request["Message.Body.Text.Data"] == "Testo è"
    assert request["Message.Body.Html.Data"] == "<p>HTML è</p>"
    assert request["ReplyToAddresses.member.1"] == "help@example.com"
    names = [(name, kind) for name, _, kind in statsd_listener.metrics()]
    assert names == [("clients.ses.request-time", "ms"), ("clients.ses.success", "c")]


def test_ses_without_reply_to_or_html_sends_neither(ses):
    ses_client.send_email('"S" <s@notifications.localhost>', "ada@example.com", "Subject", "Text", "", "")

    [request] = ses.send_email_requests()
    assert "Message.Body.Html.Data" not in request
    assert not any(key.startswith("ReplyToAddresses.member") for key in request)


def test_ses_errors_name_the_ses_error_code_only(statsd_listener, ses):
    with pytest.raises(ProviderError) as raised:
        ses_client.send_email('"S" <s@unverified.example>', "ada@example.com", "Subject", "Text", "", "")

    assert str(raised.value) == "ses: SES error MessageRejected"
    assert ("clients.ses.error", "c") in [(name, kind) for name, _, kind in statsd_listener.metrics()]


def test_an_unreachable_ses_is_an_error(settings, providers):
    configure(settings, SES_REGION="eu-west-1", SES_ENDPOINT_URL="http://127.0.0.1:9", SES_ACCESS_KEY_ID="x")
    configure(settings, SES_SECRET_ACCESS_KEY="y", SES_CONNECTION_TIMEOUT=500)

    with pytest.raises(ProviderError, match="EndpointConnectionError"):
        ses_client.send_email('"S" <s@notifications.localhost>', "ada@example.com", "Subject", "Text", "", "")
