"""A notification is committed together with its delivery message (Part A §7, dispatcher Part A §11): the
API's request relays it at once; one whose process died before relaying is sent by the relay sweep."""

import time

import pytest
from django.test import override_settings

from notifications import dao
from notifications.delivery import queue_delivery
from notifications.delivery_messages import DELIVERY_EVENT_CLASS, DeliveryRequest
from notifications.models import Notification
from receivers.models import OutboxMessage
from receivers.outbox import Outbox
from receivers.relay import relay_due_rows
from tests.notifications.sending_support import messages_on
from tests.notifications.test_v2_api import auth, post_sms

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_commits_the_delivery_message_with_the_notification_and_sends_it(
    client, api_key, sms_template, send_queues
):
    body = {
        "phone_number": "07700900123",
        "template_id": str(sms_template.id),
        "personalisation": {"name": "A", "code": 1},
    }

    response = post_sms(client, api_key, body)

    assert response.status_code == 201
    notification = Notification.objects.get(id=response.json()["id"])
    assert notification.status == "created"
    [message] = messages_on("send-sms")
    event = message["event"]
    assert event["_class"] == DELIVERY_EVENT_CLASS
    assert event["eventCode"] == "NOTIFICATION_DELIVERY_REQUESTED_EVENT"
    assert event["transactionId"] == str(notification.id)
    assert event["data"] == {"attempt": 1, "failedProvider": None}
    assert message["tracingInfo"]["traceparent"].startswith("00-")
    [row] = OutboxMessage.objects.all()
    assert (row.queue_key, row.state, row.transaction_id) == ("send-sms", "SENT", str(notification.id))
    assert messages_on("send-email") == []


def test_an_email_goes_to_the_send_email_queue(client, api_key, email_template, send_queues):
    body = {"email_address": "ada@example.com", "template_id": str(email_template.id), "personalisation": {"name": "A"}}

    response = client.post("/v2/notifications/email", body, content_type="application/json", headers=auth(api_key))

    assert response.status_code == 201
    [message] = messages_on("send-email")
    assert message["event"]["transactionId"] == response.json()["id"]


def test_a_notification_whose_process_died_before_relaying_is_sent_by_the_sweep(sms_template, send_queues, settings):
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(OUTBOX_RELAY_GRACE_SECONDS=1)):
        # The creation's decision commits; the process dies before `relay_now` (it is never called here).
        outbox = Outbox()
        with outbox.decision():
            notification = dao.create_notification(sms_template, "07700900123", {"name": "A", "code": 1})
            queue_delivery(outbox, "sms", DeliveryRequest(notification.id))
        assert relay_due_rows() == 0, "rows are due only a grace period after their decision"
        assert messages_on("send-sms") == []
        time.sleep(1.1)
        assert relay_due_rows() == 1

    [message] = messages_on("send-sms")
    assert message["event"]["transactionId"] == str(notification.id)


def test_a_creation_that_fails_leaves_neither_notification_nor_message(sms_template, send_queues):
    def create_with_a_message_the_queue_would_refuse():
        outbox = Outbox()
        with outbox.decision():
            notification = dao.create_notification(sms_template, "07700900123", {"name": "A", "code": 1})
            queue_delivery(outbox, "sms", DeliveryRequest(notification.id), visibility_seconds=10**9)

    with pytest.raises(ValueError, match="visibility"):
        create_with_a_message_the_queue_would_refuse()

    assert Notification.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
