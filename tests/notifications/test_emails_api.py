"""`POST /emails` speaks the notifications service's API: the transactions handlers' own client sends the
receipt mails they build to this deployment, which renders them from the it-IT templates, sends them
through SES (moto's server) and tracks them with the SES receipts (Part A §7, dispatcher Part B §8.3)."""

import copy

import pytest
import requests

from notifications.models import ApiKey, Notification, Template
from tests.notifications.conftest import configure, ses_body, statistics_of
from tests.notifications.sending_support import drain, refreshed, statistics_are_right
from tests.notifications.test_v2_api import auth
from tests.transactions.flows.stories import story
from transactions.clients.notifications_service import NotificationsServiceError, send_email
from transactions.receipt_mail import build_receipt_mail
from transactions.reduction import reduce_events

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "mario.rossi@example.org"


@pytest.fixture
def notifications_service(live_server, settings, api_key, send_queues, providers):
    """NOTIFICATIONS_SERVICE_URI pointing at this deployment, with a service's API key as subscription key."""
    configure(settings, NOTIFICATIONS_SERVICE_URI=live_server.url, NOTIFICATIONS_SERVICE_API_KEY=api_key)
    return live_server


def receipt_mail(**story_options):
    return build_receipt_mail(reduce_events(story(**story_options)), EMAIL)


def send(mail) -> None:
    send_email(mail.to, mail.subject, mail.language, mail.template_id, mail.parameters)


def test_a_success_receipt_is_rendered_sent_through_ses_and_delivered(sns, notifications_service, ses, service, client):
    mail = receipt_mail()

    send(mail)

    notification = Notification.objects.get()
    assert (notification.notification_type, notification.to, notification.status) == ("email", EMAIL, "created")
    assert notification.subject == "Il riepilogo del tuo pagamento"
    template = Template.objects.get(id=notification.template_id)
    assert (template.receipt_template_id, template.service_id) == ("success", service.id)
    text = notification.body
    for line in (
        "ecco il riepilogo del pagamento di 121,50 € che hai effettuato con pagoPA.",
        "Importo: 120,00 €",
        "Commissione: 1,50 €",
        "Totale addebitato: 121,50 €",
        "Codice transazione: c0ffee0000000000000000000000c0de",
        "Data e ora: 25 settembre 2023, 14:46:10",
        "Metodo di pagamento: Carte di credito",
        "Gestore della transazione: Intesa Sanpaolo",
        "Codice di autorizzazione: 123456",
        "Codice identificativo (RRN): 231234567890",
        "1. TARI 2023",
        "   Ente creditore: Comune di Roma (codice fiscale 77777777777)",
        "   Codice avviso: 302016723749670035",
        "   Importo: 120,00 €",
        f"Questa ricevuta è stata inviata a {EMAIL}.",
    ):
        assert line in text.splitlines(), line
    assert '<img src="https://assets.cdn.platform.pagopa.it/creditcard/visa.png"' in notification.html_body

    drain("send-email")

    [accepted] = ses.messages()
    [request] = ses.send_email_requests()
    assert request["Destination.ToAddresses.member.1"] == EMAIL
    assert request["Message.Subject.Data"] == "Il riepilogo del tuo pagamento"
    assert request["Message.Body.Text.Data"] == text
    assert request["Message.Body.Html.Data"] == notification.html_body
    assert refreshed(notification).reference == accepted["id"]
    client.post(
        "/notifications/email/ses", sns.sign(ses_body("Delivery", message_id=accepted["id"])), content_type="text/plain"
    )
    assert refreshed(notification).status == "delivered"
    assert statistics_of(notification)["emails_delivered"] == 1
    statistics_are_right()


def test_a_ko_receipt_uses_the_ko_template(notifications_service, ses):
    mail = receipt_mail(receipt_outcome="KO")

    send(mail)

    notification = Notification.objects.get()
    assert notification.subject == "Il pagamento non è riuscito"
    assert Template.objects.get(id=notification.template_id).receipt_template_id == "ko"
    assert "il pagamento di 120,00 € che hai avviato con pagoPA il " in notification.body
    assert "codice transazione c0ffee0000000000000000000000c0de" in notification.body
    drain("send-email")
    assert len(ses.messages()) == 1


def test_parameters_are_escaped_in_html_only(notifications_service, ses):
    mail = receipt_mail()
    mail.parameters["cart"]["items"][0]["payee"]["name"] = "Comune <b>di</b> Roma & Co"

    send(mail)

    notification = Notification.objects.get()
    assert "Ente creditore: Comune <b>di</b> Roma & Co (codice fiscale" in notification.body
    assert "Comune &lt;b&gt;di&lt;/b&gt; Roma &amp; Co" in notification.html_body


def test_another_language_gets_the_it_it_templates(notifications_service):
    mail = receipt_mail(language="en-GB")

    send(mail)

    assert "Totale addebitato: 121,50 €" in Notification.objects.get().body


def test_a_changed_template_file_is_a_new_version(notifications_service, service):
    send(receipt_mail())
    row = Template.objects.get(receipt_template_id="success")
    Template.objects.filter(id=row.id).update(content="what an older file said")

    send(receipt_mail())

    assert Template.objects.filter(receipt_template_id="success").count() == 1
    versions = sorted(Notification.objects.values_list("template_version", flat=True))
    assert versions == [1, 2]


def test_receipt_templates_are_not_offered_to_the_v2_api(notifications_service, client, api_key):
    send(receipt_mail())
    template = Template.objects.get(receipt_template_id="success")
    body = {"email_address": "a@example.com", "template_id": str(template.id)}

    response = client.post("/v2/notifications/email", body, content_type="application/json", headers=auth(api_key))

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Template not found"


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        ({"templateId": "welcome"}, ["templateId 'welcome' is not a known template (success, ko)"]),
        ({"to": "not-an-address"}, ["to is not a valid e-mail address"]),
        ({"language": "italiano!"}, ["language 'italiano!' is not a language tag such as it-IT"]),
        ({"subject": " "}, ["subject must not be empty"]),
        ({"parameters": []}, ["parameters must be an object"]),
        (
            {"parameters": {"transaction": {"id": "x", "amount": 12}}},
            ["parameters.transaction.timestamp is missing", "parameters.transaction.amount must be a string"],
        ),
    ],
)
def test_bad_bodies_get_400_naming_every_problem(notifications_service, change, problems):
    mail = receipt_mail(receipt_outcome="KO")
    body = {
        "to": mail.to,
        "subject": mail.subject,
        "language": mail.language,
        "templateId": mail.template_id,
        "parameters": mail.parameters,
    } | change

    with pytest.raises(NotificationsServiceError) as raised:
        send_email(body["to"], body["subject"], body["language"], body["templateId"], body["parameters"])

    assert raised.value.status == 400
    assert raised.value.body["errors"] == problems
    assert raised.value.body["status"] == 400
    assert Notification.objects.count() == 0


def test_success_parameters_are_checked_down_to_each_cart_item(notifications_service):
    mail = receipt_mail()
    parameters = copy.deepcopy(mail.parameters)
    del parameters["cart"]["items"][0]["payee"]["taxCode"]
    parameters["transaction"]["paymentMethod"]["extraFee"] = "no"

    with pytest.raises(NotificationsServiceError) as raised:
        send_email(mail.to, mail.subject, mail.language, mail.template_id, parameters)

    assert raised.value.body["errors"] == [
        "parameters.transaction.paymentMethod.extraFee must be a boolean",
        "parameters.cart.items[0].payee.taxCode is missing",
    ]


def test_a_missing_field_or_a_body_that_is_not_json_is_400(notifications_service, api_key):
    url = f"{notifications_service.url}/emails"
    headers = {"ocp-apim-subscription-key": api_key}
    missing = requests.post(url, json={"to": EMAIL}, headers=headers, timeout=10)
    not_json = requests.post(url, data="{", headers=headers, timeout=10)

    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        "subject is missing",
        "language is missing",
        "templateId is missing",
        "parameters is missing",
    ]
    assert not_json.status_code == 400
    assert not_json.json()["errors"] == ["body is not JSON"]


@pytest.mark.parametrize(
    ("key", "status", "detail"),
    [
        ("", 401, "Unauthorized: subscription key must be provided"),
        ("not-a-key", 401, "Invalid subscription key"),
        ("default-00000000-0000-0000-0000-000000000000-11111111-1111-1111-1111-111111111111", 401, None),
    ],
)
def test_a_missing_or_unknown_key_is_401(notifications_service, settings, key, status, detail):
    configure(settings, NOTIFICATIONS_SERVICE_API_KEY=key)

    with pytest.raises(NotificationsServiceError) as raised:
        send(receipt_mail())

    assert raised.value.status == status
    assert raised.value.body["detail"] == (detail or "Invalid subscription key")


def test_a_revoked_key_is_403(notifications_service, service):
    ApiKey.objects.get(service=service).revoke()

    with pytest.raises(NotificationsServiceError) as raised:
        send(receipt_mail())

    assert raised.value.status == 403
    assert raised.value.body["detail"] == "Invalid subscription key: API key revoked"


def test_a_test_key_receipt_is_simulated(notifications_service, settings, service, ses):
    _, test_key = ApiKey.issue(service, "test", key_type="test")
    configure(settings, NOTIFICATIONS_SERVICE_API_KEY=test_key)

    send(receipt_mail())
    drain("send-email")

    notification = Notification.objects.get()
    assert (notification.status, notification.sent_by) == ("delivered", "simulated")
    assert ses.messages() == []
