"""Sending through each provider, failover, retries to technical-failure, and the test key's simulation
(spec notifications.md Part A §7): real Azurite queues handled by the queue runtime, Firetext and MMG as
loopback HTTP servers, SES as moto's server, receipts through the callback views; statuses, statistics
(against `rebuild_statistics --check`) and statsd names asserted."""

import uuid

import pytest
import requests
from werkzeug import Response

from notifications import dao
from notifications.delivery_messages import DeliveryRequest, delivery_event
from notifications.models import KEY_TYPE_TEST, SMS, ApiKey, Provider, Template
from tests.notifications.conftest import configure, ses_body, statistics_of
from tests.notifications.sending_support import create, drain, handle_visible, refreshed, statistics_are_right
from tests.queue_support import dead_letters, hidden_count, queue_length, send_event

pytestmark = pytest.mark.django_db(transaction=True)

FIRETEXT_OK = {"code": 0, "description": "SMS successfully queued"}
FIRETEXT_DECLINED = {"code": 1, "description": "Authentication error"}


@pytest.fixture
def normal_key(service):
    return ApiKey.issue(service, "normal-key")[0]


@pytest.fixture
def test_key(service):
    return ApiKey.issue(service, "test-key", key_type=KEY_TYPE_TEST)[0]


@pytest.fixture
def fast_retries(settings):
    configure(settings, NOTIFICATION_SEND_RETRY_BASE_SECONDS=1, NOTIFICATION_SEND_MAX_ATTEMPTS=3)


def requests_to(server, path: str) -> list:
    return [request for request, _ in server.log if request.path == path]


def test_an_sms_goes_through_the_first_provider_and_its_receipt_delivers_it(
    statsd_listener, send_queues, sms_providers, normal_key, sms_template, client
):
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_OK)
    notification = create(sms_template, "07700 900123", normal_key, name="Ada", code="1")

    drain("send-sms")

    sent = refreshed(notification)
    assert (sent.status, sent.sent_by, sent.billable_units) == ("sending", "firetext", 1)
    assert sent.sent_at is not None
    [request] = requests_to(sms_providers, "/firetext")
    assert request.form["reference"] == str(notification.id)
    assert request.form["message"] == "Hello Ada, code 1"
    assert request.form["from"] == "TESTSENDER"
    assert requests_to(sms_providers, "/mmg") == []

    client.post("/notifications/sms/firetext", {"status": "0", "reference": str(notification.id)})

    assert refreshed(notification).status == "delivered"
    assert statistics_of(notification) == {
        "emails_requested": 0,
        "emails_delivered": 0,
        "emails_failed": 0,
        "sms_requested": 1,
        "sms_delivered": 1,
        "sms_failed": 0,
    }
    statistics_are_right()
    names = statsd_listener.names()
    for name in (
        "dao.create_notification",
        "dao.claim_for_sending",
        "dao.update_notification_to_sending",
        "clients.firetext.request-time",
        "clients.firetext.success",
        "tasks.send_sms_to_provider",
        "sms.total-time",
        "queue.send-sms.wait",
        "queue.send-sms.handler",
        "queue.send-sms.processed",
        "callback.firetext.delivered",
    ):
        assert name in names, name


def test_an_sms_goes_through_mmg_when_mmg_comes_first(send_queues, sms_providers, normal_key, sms_template, client):
    mmg = Provider.objects.get(identifier="mmg")
    mmg.priority = 1
    mmg.record_change("operator")
    sms_providers.expect_request("/mmg").respond_with_json({"Reference": "mmg-42"})
    notification = create(sms_template, "07700900123", normal_key)

    drain("send-sms")

    sent = refreshed(notification)
    assert (sent.status, sent.sent_by, sent.reference) == ("sending", "mmg", "mmg-42")
    assert requests_to(sms_providers, "/firetext") == []
    response = client.post(
        "/notifications/sms/mmg", {"status": "3", "CID": str(notification.id)}, content_type="application/json"
    )
    assert response.status_code == 200
    assert refreshed(notification).status == "delivered"
    statistics_are_right()


def test_a_long_unicode_sms_bills_its_fragments(send_queues, sms_providers, normal_key, service):
    template = Template.objects.create(service=service, name="long", template_type=SMS, content="Ł" * 135)
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_OK)
    notification = create(template, "07700900123", normal_key)

    drain("send-sms")

    assert refreshed(notification).billable_units == 3


def test_a_failed_attempt_fails_over_to_the_next_sms_provider(
    statsd_listener, send_queues, sms_providers, normal_key, sms_template, fast_retries
):
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_DECLINED)
    sms_providers.expect_request("/mmg").respond_with_json({"Reference": "mmg-1"})
    notification = create(sms_template, "07700900123", normal_key)

    drain("send-sms")

    sent = refreshed(notification)
    assert (sent.status, sent.sent_by) == ("sending", "mmg")
    assert len(requests_to(sms_providers, "/firetext")) == 1
    assert len(requests_to(sms_providers, "/mmg")) == 1
    names = statsd_listener.names()
    assert "clients.firetext.error" in names
    assert names.count("sending.sms.retried") == 1
    statistics_are_right()


def test_retries_end_in_one_technical_failure_counted_once(
    statsd_listener, send_queues, sms_providers, normal_key, sms_template, fast_retries, client
):
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_DECLINED)
    sms_providers.expect_request("/mmg").respond_with_data("down", status=503)
    notification = create(sms_template, "07700900123", normal_key)

    drain("send-sms")

    failed = refreshed(notification)
    assert failed.status == "technical-failure"
    assert failed.sent_at is None
    # Attempts 1 and 3 through Firetext, 2 through MMG: three attempts, then technical-failure.
    assert len(requests_to(sms_providers, "/firetext")) == 2
    assert len(requests_to(sms_providers, "/mmg")) == 1
    assert statistics_of(notification)["sms_failed"] == 1
    late = client.post("/notifications/sms/firetext", {"status": "0", "reference": str(notification.id)})
    assert late.json()["message"].endswith("already technical-failure")
    assert statistics_of(notification)["sms_failed"] == 1
    assert statistics_of(notification)["sms_delivered"] == 0
    statistics_are_right()
    names = statsd_listener.names()
    assert names.count("sending.sms.retried") == 2
    assert names.count("sending.sms.technical-failure") == 1
    assert names.count("clients.firetext.error") == 2
    assert names.count("clients.mmg.error") == 1
    assert "tasks.send_sms_to_provider" not in names, "a failed task execution is not counted as a success"
    assert dead_letters() == []


def test_an_email_goes_through_ses_with_the_reply_to_of_send_time(
    sns, statsd_listener, send_queues, ses, normal_key, email_template, service, client
):
    notification = create(email_template, "ada@example.com", normal_key, name="Ada")
    service.reply_to_email_address = "changed-after-creation@example.com"
    service.save()

    drain("send-email")

    sent = refreshed(notification)
    [accepted] = ses.messages()
    assert (sent.status, sent.sent_by, sent.reference) == ("sending", "ses", accepted["id"])
    assert sent.billable_units == 0
    [request] = ses.send_email_requests()
    assert request["Source"] == '"Test service" <test.service@notifications.localhost>'
    assert request["Destination.ToAddresses.member.1"] == "ada@example.com"
    assert request["Message.Subject.Data"] == "Hi Ada"
    assert request["Message.Body.Text.Data"] == "Dear Ada, welcome."
    assert request["ReplyToAddresses.member.1"] == "changed-after-creation@example.com"

    response = client.post(
        "/notifications/email/ses", sns.sign(ses_body("Delivery", message_id=accepted["id"])), content_type="text/plain"
    )

    assert response.status_code == 200
    assert refreshed(notification).status == "delivered"
    assert statistics_of(notification)["emails_delivered"] == 1
    statistics_are_right()
    names = statsd_listener.names()
    for name in ("clients.ses.success", "clients.ses.request-time", "tasks.send_email_to_provider", "email.total-time"):
        assert name in names, name


def test_an_email_ses_keeps_refusing_is_a_technical_failure_after_its_retries(
    send_queues, ses, normal_key, email_template, fast_retries, settings
):
    # SES refuses a source whose domain it has not verified: every attempt fails.
    configure(settings, NOTIFY_EMAIL_DOMAIN="not-verified.example")
    notification = create(email_template, "ada@example.com", normal_key)

    drain("send-email")

    assert refreshed(notification).status == "technical-failure"
    assert ses.messages() == []
    assert statistics_of(notification)["emails_failed"] == 1
    statistics_are_right()


@pytest.mark.parametrize(
    ("notification_type", "recipient", "status"),
    [
        ("sms", "07700900123", "delivered"),
        ("sms", "07700900003", "temporary-failure"),
        ("sms", "+44 7700 900002", "permanent-failure"),
        ("email", "ada@example.com", "delivered"),
        ("email", "temp-fail@simulator.notify", "temporary-failure"),
        ("email", "perm-fail@simulator.notify", "permanent-failure"),
    ],
)
def test_a_test_key_takes_the_simulated_outcome_goes_to_no_provider_and_is_not_counted(
    statsd_listener,
    send_queues,
    sms_providers,
    ses,
    test_key,
    sms_template,
    email_template,
    notification_type,
    recipient,
    status,
):
    template = sms_template if notification_type == "sms" else email_template
    notification = create(template, recipient, test_key)

    drain()

    done = refreshed(notification)
    assert (done.status, done.sent_by, done.key_type) == (status, "simulated", "test")
    assert done.sent_at is not None
    assert sms_providers.log == []
    assert ses.messages() == []
    assert set(statistics_of(notification).values()) == {0}
    statistics_are_right()
    assert f"callback.simulated.{status}" in statsd_listener.names()


def test_with_no_active_provider_the_delivery_waits_and_readiness_says_so(
    send_queues, sms_providers, ses, normal_key, sms_template, settings, client
):
    configure(settings, NOTIFICATION_SEND_NO_PROVIDER_WAIT_SECONDS=2)
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_OK)
    for provider in Provider.objects.filter(notification_type="sms"):
        provider.active = False
        provider.record_change("operator")
    notification = create(sms_template, "07700900123", normal_key)

    assert handle_visible("send-sms") == 1

    assert refreshed(notification).status == "created"
    assert hidden_count("send-sms") == 1, "the same attempt comes back later"
    readiness = client.get("/health/readiness").json()["providers"]
    assert readiness["status"] == "DEGRADED"
    assert readiness["problems"] == ["no active sms provider: sms notifications wait"]
    assert readiness["sms"] == []

    firetext = Provider.objects.get(identifier="firetext")
    firetext.active = True
    firetext.record_change("operator")
    drain("send-sms")

    assert refreshed(notification).status == "sending"
    assert client.get("/health/readiness").json()["providers"]["status"] == "UP"


def test_a_copy_of_the_message_for_a_notification_no_longer_created_does_nothing(
    send_queues, sms_providers, normal_key, sms_template
):
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_OK)
    notification = create(sms_template, "07700900123", normal_key)
    drain("send-sms")

    send_event("send-sms", delivery_event(DeliveryRequest(notification.id)), {"traceparent": ""})
    drain("send-sms")

    assert len(requests_to(sms_providers, "/firetext")) == 1
    assert refreshed(notification).status == "sending"
    assert dead_letters() == []


def test_a_notification_claimed_by_another_consumer_waits_for_its_claim(
    send_queues, sms_providers, normal_key, sms_template
):
    sms_providers.expect_request("/firetext").respond_with_json(FIRETEXT_OK)
    notification = create(sms_template, "07700900123", normal_key)
    assert dao.claim_for_sending(notification.id, seconds=2)

    assert handle_visible("send-sms") == 1

    assert requests_to(sms_providers, "/firetext") == []
    assert queue_length("send-sms") == 1, "left on its queue for redelivery"
    drain("send-sms")  # the lease (5 s) brings it back after the claim (2 s) ran out
    assert refreshed(notification).status == "sending"
    assert len(requests_to(sms_providers, "/firetext")) == 1


def test_a_receipt_that_arrives_before_the_send_is_recorded_is_kept(
    send_queues, sms_providers, normal_key, sms_template, live_server
):
    notification = create(sms_template, "07700900123", normal_key)

    def firetext_delivers_before_answering(request):
        receipt = {"status": "0", "reference": str(notification.id)}
        requests.post(f"{live_server.url}/notifications/sms/firetext", data=receipt, timeout=10)
        return Response('{"code": 0, "description": "queued"}', content_type="application/json")

    sms_providers.expect_request("/firetext").respond_with_handler(firetext_delivers_before_answering)

    drain("send-sms")

    sent = refreshed(notification)
    assert sent.status == "delivered", "the send did not overwrite the receipt"
    assert (sent.sent_by, sent.billable_units) == ("firetext", 1)
    assert sent.sent_at is not None
    assert statistics_of(notification)["sms_delivered"] == 1
    statistics_are_right()


def test_an_unknown_notification_or_a_malformed_message_is_dead_lettered(send_queues, providers):
    send_event("send-sms", delivery_event(DeliveryRequest(uuid.uuid4())), {"traceparent": ""})
    malformed = delivery_event(DeliveryRequest(uuid.uuid4())) | {"data": {"attempt": 0}}
    send_event("send-sms", malformed, {"traceparent": ""})

    drain("send-sms")

    categories = sorted(letter["category"] for letter in dead_letters())
    assert categories == ["EVENT_PARSING_ERROR", "PROCESSING_ERROR"]
