"""SES callbacks are SNS messages: only what SNS signed (versions 1 and 2, with a certificate fetched over
https from an SNS host and cached) is processed; anything else is a 403, counted, and changes nothing.
A SubscriptionConfirmation is confirmed for an allowed topic only."""

import json

import pytest
from django.test import override_settings

from notifications.providers import sns as sns_module
from notifications.providers.sns import SnsRejected, require_sns_url
from tests.notifications.conftest import ses_body, statistics_of
from tests.notifications.sns_support import TOPIC, new_key

URL = "/notifications/email/ses"


def post(client, body):
    return client.post(URL, body, content_type="text/plain; charset=UTF-8")


@pytest.fixture
def email_sent(make_notification):
    return make_notification(status="sending", notification_type="email", reference="ses-message-1")


def assert_refused(response, email_sent, statsd_listener, reason: str) -> None:
    assert response.status_code == 403, response.content
    assert response.json() == {"result": "error", "message": f"SES callback failed: {reason}"}
    assert "callback.ses.unauthorised" in statsd_listener.names("c")
    email_sent.refresh_from_db()
    assert email_sent.status == "sending"
    assert statistics_of(email_sent)["emails_delivered"] == 0


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_message_signed_by_sns_is_processed(client, sns, email_sent, version):
    response = post(client, sns.sign(ses_body(), version=version))

    assert response.status_code == 200, response.content
    email_sent.refresh_from_db()
    assert email_sent.status == "delivered"


def test_a_message_with_a_subject_is_verified_with_it(client, sns, email_sent):
    envelope = json.loads(ses_body())
    envelope["Subject"] = "Amazon SES Email Event Notification"

    assert post(client, sns.sign(envelope)).status_code == 200


def test_an_unsigned_message_is_refused(client, sns, email_sent, statsd_listener):
    response = post(client, ses_body())

    assert_refused(response, email_sent, statsd_listener, "unsupported SignatureVersion None")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m.update(Message=m["Message"].replace("Delivery", "Complaint")), "signature does not match"),
        (lambda m: m.update(TopicArn=TOPIC + "-other"), "signature does not match"),
        (lambda m: m.update(Signature="not base64!"), "Signature is not base64"),
        (lambda m: m.update(SignatureVersion="3"), "unsupported SignatureVersion '3'"),
        (lambda m: m.update(SignatureVersion="2"), "signature does not match"),
        (lambda m: m.update(Type="Surprise"), "unknown message type 'Surprise'"),
    ],
    ids=["message-changed", "topic-changed", "signature-garbled", "version-unknown", "version-swapped", "type"],
)
def test_a_message_changed_after_signing_is_refused(client, sns, email_sent, statsd_listener, change, reason, settings):
    message = json.loads(sns.sign(ses_body()))
    change(message)
    both_topics = settings.DISPATCHER.replace(SES_CALLBACK_ALLOWED_TOPIC_ARNS=[TOPIC, TOPIC + "-other"])

    with override_settings(DISPATCHER=both_topics):  # so a changed topic meets the signature check
        answer = post(client, json.dumps(message))

    assert_refused(answer, email_sent, statsd_listener, reason)


def test_a_message_signed_by_another_key_is_refused(client, sns, email_sent, statsd_listener):
    genuine = json.loads(sns.sign(ses_body()))
    sns.key = new_key()
    forged = json.loads(sns.sign(ses_body()))
    forged["SigningCertURL"] = genuine["SigningCertURL"]

    assert_refused(post(client, json.dumps(forged)), email_sent, statsd_listener, "signature does not match")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}{path}",
        "https://evil.example{path}",
        "https://127.0.0.1@evil.example{path}",
        "https://127.0.0.1:{port}/certificate.pem",
        "https://127.0.0.1:{port}{path}/../../other.pem",
    ],
    ids=["plain-http", "other-host", "user-part", "other-path", "dot-segments"],
)
def test_a_certificate_outside_sns_is_never_fetched(client, sns, email_sent, statsd_listener, url):
    certificate_url = url.format(port=sns.server.port, path=sns.certificate_path)

    response = post(client, sns.sign(ses_body(), certificate_url=certificate_url))

    assert_refused(response, email_sent, statsd_listener, f"SigningCertURL {certificate_url!r} is not an SNS address")
    assert sns.server.log == []


def test_the_certificate_is_fetched_once_and_cached(client, sns, make_notification):
    for n in range(3):
        make_notification(status="sending", notification_type="email", reference=f"ses-{n}")
        assert post(client, sns.sign(ses_body(message_id=f"ses-{n}"))).status_code == 200

    assert sns.requests_to(sns.certificate_path) == 1


def test_a_certificate_that_cannot_be_fetched_answers_503_so_sns_delivers_again(client, sns, email_sent):
    missing = sns.server.url_for("/SimpleNotificationService-missing.pem")

    response = post(client, sns.sign(ses_body(), certificate_url=missing))

    assert response.status_code == 503
    assert response.json()["message"] == "SES callback failed: the SNS signing certificate is unavailable"
    email_sent.refresh_from_db()
    assert email_sent.status == "sending"


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123abcd.pem", True),
        ("http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem", False),
        ("https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-0123abcd.pem", False),
        ("https://my-bucket.s3.amazonaws.com/SimpleNotificationService-0123abcd.pem", False),
        ("https://sns.eu-west-1.amazonaws.com@evil.example/SimpleNotificationService-0123abcd.pem", False),
        ("https://sns.eu-west-1.amazonaws.com/certificates/mine.pem", False),
        ("https://127.0.0.1/SimpleNotificationService-0123abcd.pem", False),
    ],
)
def test_by_default_only_the_sns_hosts_of_aws_are_trusted(url, accepted):
    try:
        require_sns_url(url, "SigningCertURL", sns_module.CERTIFICATE_PATH)
    except SnsRejected:
        assert not accepted
    else:
        assert accepted


class TestSubscriptions:
    @pytest.fixture
    def allowed(self, settings):
        with override_settings(DISPATCHER=settings.DISPATCHER.replace(SES_CALLBACK_ALLOWED_TOPIC_ARNS=[TOPIC])):
            yield

    def test_a_signed_confirmation_for_an_allowed_topic_is_confirmed(self, client, sns, allowed):
        confirmation = sns.subscription_confirmation()

        response = post(client, sns.sign(confirmation, version="2"))

        assert response.status_code == 200
        assert response.json()["message"] == f"SES callback succeeded: subscription to {TOPIC} confirmed"
        assert sns.requests_to("/confirm-subscription") == 1

    def test_a_confirmation_for_another_topic_is_not_confirmed(self, client, sns, allowed, statsd_listener):
        response = post(client, sns.sign(sns.subscription_confirmation(topic=TOPIC + "-other")))

        assert response.status_code == 403
        assert sns.requests_to("/confirm-subscription") == 0
        assert "callback.ses.unauthorised" in statsd_listener.names("c")

    def test_without_an_allowed_topic_list_nothing_is_confirmed(self, client, sns, settings):
        no_list = settings.DISPATCHER.replace(SES_CALLBACK_ALLOWED_TOPIC_ARNS=[], DJANGO_DEBUG=True)
        with override_settings(DISPATCHER=no_list):  # even where SES callbacks are open (debug on)
            response = post(client, sns.sign(sns.subscription_confirmation()))

        assert response.status_code == 403
        assert response.json()["message"].endswith("topic not allowed")
        assert sns.requests_to("/confirm-subscription") == 0

    def test_an_unsigned_confirmation_is_not_followed(self, client, sns, allowed):
        response = post(client, json.dumps(sns.subscription_confirmation()))

        assert response.status_code == 403
        assert sns.requests_to("/confirm-subscription") == 0

    def test_a_subscribe_url_outside_sns_is_not_followed(self, client, sns, allowed):
        confirmation = sns.subscription_confirmation()
        confirmation["SubscribeURL"] = confirmation["SubscribeURL"].replace("https://", "http://")

        response = post(client, sns.sign(confirmation))

        assert response.status_code == 403
        assert "is not an SNS address" in response.json()["message"]
        assert sns.requests_to("/confirm-subscription") == 0

    def test_a_signed_unsubscribe_confirmation_is_acknowledged_and_followed_nowhere(self, client, sns, allowed):
        message = sns.subscription_confirmation(message_type="UnsubscribeConfirmation")

        response = post(client, sns.sign(message))

        assert response.status_code == 200
        assert sns.requests_to("/confirm-subscription") == 0
