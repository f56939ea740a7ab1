"""POST /notifications/email/ses: signed SNS envelopes (text/plain), lookup by the SES message id, exactly once.
Signatures themselves are tested in test_ses_signatures.py."""

import json

import pytest
from django.test import override_settings

from tests.notifications.conftest import ses_body, statistics_of

URL = "/notifications/email/ses"


def post(client, body, path=URL, **kwargs):
    return client.post(path, body, content_type="text/plain; charset=UTF-8", **kwargs)


@pytest.fixture
def email_sent(make_notification):
    return make_notification(status="sending", notification_type="email", reference="ses-message-1")


@pytest.mark.parametrize(
    ("event", "status", "counter"),
    [
        ({"notificationType": "Delivery"}, "delivered", "emails_delivered"),
        ({"notificationType": "Complaint"}, "delivered", "emails_delivered"),
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent"}}, "permanent-failure", "emails_failed"),
        ({"notificationType": "Bounce", "bounce": {"bounceType": "Transient"}}, "temporary-failure", "emails_failed"),
        (
            {"notificationType": "Bounce", "bounce": {"bounceType": "Undetermined"}},
            "temporary-failure",
            "emails_failed",
        ),
    ],
)
def test_each_ses_event_sets_its_status_and_counter(client, sns, email_sent, event, status, counter):
    response = post(client, sns.sign(ses_body(**event)))

    assert response.status_code == 200
    assert response.json() == {"result": "success", "message": "SES callback succeeded"}
    email_sent.refresh_from_db()
    assert email_sent.status == status
    assert email_sent.provider_status == event["notificationType"]
    assert statistics_of(email_sent)[counter] == 1


def test_a_body_that_is_not_json_answers_400_with_a_string(client, db):
    response = post(client, "nonsense")
    assert response.status_code == 400
    assert response.json() == {"result": "error", "message": "SES callback failed: invalid json"}


def test_an_envelope_without_its_message_cannot_be_verified_and_answers_403(client, sns, db):
    envelope = json.loads(ses_body())
    del envelope["Message"]
    response = post(client, sns.sign(envelope))
    assert response.status_code == 403
    assert response.json() == {"result": "error", "message": "SES callback failed: Message missing"}


def test_a_missing_notification_type_answers_400_with_a_list(client, sns, db):
    envelope = json.loads(ses_body())
    envelope["Message"] = json.dumps({"mail": {"messageId": "x", "source": "y"}})
    response = post(client, sns.sign(envelope))
    assert response.status_code == 400
    assert response.json()["message"] == ["SES callback failed: notificationType missing"]


def test_an_unknown_notification_type_answers_400(client, sns, email_sent):
    response = post(client, sns.sign(ses_body("Open")))
    assert response.status_code == 400
    assert response.json()["message"] == "SES callback failed: status Open not found"
    email_sent.refresh_from_db()
    assert email_sent.status == "sending"


def test_a_bounce_without_its_bounce_object_answers_400(client, sns, email_sent):
    response = post(client, sns.sign(ses_body("Bounce")))
    assert response.status_code == 400
    assert response.json()["message"] == "SES callback failed: bounce missing"


def test_a_missing_message_id_answers_400(client, sns, db):
    envelope = json.loads(ses_body())
    envelope["Message"] = json.dumps({"notificationType": "Delivery", "mail": {"source": "a@b.c"}})
    response = post(client, sns.sign(envelope))
    assert response.status_code == 400
    assert response.json()["message"] == "SES callback failed: messageId missing"


def test_an_unknown_message_id_answers_404(client, sns, email_sent):
    response = post(client, sns.sign(ses_body(message_id="unknown-id")))
    assert response.status_code == 404
    assert response.json() == {
        "result": "error",
        "message": "SES callback failed: notification with reference unknown-id not found. Status delivered",
    }


def test_a_repeated_event_is_ignored_with_200_and_counted_once(client, sns, email_sent):
    post(client, sns.sign(ses_body()))
    response = post(client, sns.sign(ses_body("Bounce", bounce={"bounceType": "Permanent"})))
    assert response.status_code == 200
    assert response.json()["message"] == f"SES callback ignored: notification {email_sent.id} already delivered"
    email_sent.refresh_from_db()
    assert email_sent.status == "delivered"
    assert statistics_of(email_sent)["emails_delivered"] == 1
    assert statistics_of(email_sent)["emails_failed"] == 0


def test_a_receipt_that_beats_the_move_to_sending_is_applied(client, sns, make_notification):
    notification = make_notification(status="created", notification_type="email", reference="ses-message-1")
    response = post(client, sns.sign(ses_body()))
    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.status == "delivered"
    assert statistics_of(notification)["emails_delivered"] == 1


def test_a_hard_bounce_after_pending_becomes_temporary_failure(client, sns, make_notification):
    notification = make_notification(status="pending", notification_type="email", reference="ses-message-1")
    post(client, sns.sign(ses_body("Bounce", bounce={"bounceType": "Permanent"})))
    notification.refresh_from_db()
    assert notification.status == "temporary-failure"
    assert notification.provider_code == "Permanent"


class TestCredentials:
    def test_a_configured_token_is_required(self, client, sns, email_sent, settings):
        with override_settings(DISPATCHER=settings.DISPATCHER.replace(SES_CALLBACK_TOKEN="ses-token")):
            refused = post(client, sns.sign(ses_body()))
            accepted = post(client, sns.sign(ses_body()), path=URL + "?token=ses-token")
        assert refused.status_code == 401
        assert refused.json()["message"] == "SES callback failed: unauthorised"
        assert accepted.status_code == 200

    def test_a_genuinely_signed_message_of_any_topic_is_refused_without_a_topic_list(
        self, client, sns, email_sent, settings
    ):
        """An SNS signature proves AWS sent it, not that the topic is ours: someone else's topic would do."""
        someone_elses = sns.sign(ses_body().replace("123456789012:ses_notifications", "999999999999:theirs"))
        with override_settings(DISPATCHER=settings.DISPATCHER.replace(SES_CALLBACK_ALLOWED_TOPIC_ARNS=[])):
            refused = post(client, someone_elses)
            with override_settings(DISPATCHER=settings.DISPATCHER.replace(DJANGO_DEBUG=True)):
                on_a_development_machine = post(client, sns.sign(ses_body()))
        assert refused.status_code == 403
        assert "SES_CALLBACK_ALLOWED_TOPIC_ARNS" in refused.json()["message"]
        assert on_a_development_machine.status_code == 200
        email_sent.refresh_from_db()
        assert email_sent.status == "delivered", "only the development machine's receipt was applied"

    def test_only_allowed_topics_are_accepted_when_a_list_is_set(self, client, sns, email_sent, settings):
        allowed = "arn:aws:sns:eu-west-1:123456789012:ses_notifications"
        other = sns.sign(ses_body().replace(allowed, "arn:aws:sns:eu-west-1:999:other"))
        config = settings.DISPATCHER.replace(SES_CALLBACK_ALLOWED_TOPIC_ARNS=[allowed])
        with override_settings(DISPATCHER=config):
            refused = post(client, other)
            email_sent.refresh_from_db()
            assert email_sent.status == "sending"
            accepted = post(client, sns.sign(ses_body()))
        assert refused.status_code == 403
        assert refused.json()["message"] == "SES callback failed: topic arn:aws:sns:eu-west-1:999:other not allowed"
        assert accepted.status_code == 200
