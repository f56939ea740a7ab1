"""GOV.UK Notify's official `notifications-python-client`, unchanged, against our v2 API on a live server."""

import pytest
import requests
from notifications_python_client import NotificationsAPIClient
from notifications_python_client.errors import HTTPError

from notifications.models import Notification
from tests.notifications.conftest import ses_body
from tests.receivers.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def notify(live_server, api_key) -> NotificationsAPIClient:
    return NotificationsAPIClient(api_key, base_url=live_server.url)


def test_the_official_client_sends_and_reads_notifications(notify, sms_template, email_template):
    sms = notify.send_sms_notification(
        "+447700900123", str(sms_template.id), personalisation={"name": "Ada", "code": "1234"}, reference="ref-1"
    )
    email = notify.send_email_notification("ada@example.com", str(email_template.id), personalisation={"name": "Ada"})

    assert sms["content"]["body"] == "Hello Ada, code 1234"
    assert email["content"]["subject"] == "Hi Ada"
    fetched = notify.get_notification_by_id(sms["id"])
    assert fetched["status"] == "created"
    assert fetched["reference"] == "ref-1"
    assert fetched["phone_number"] == "+447700900123"
    listed = notify.get_all_notifications(template_type="email")
    assert [n["id"] for n in listed["notifications"]] == [email["id"]]
    assert Notification.objects.count() == 2


def test_the_official_iterator_walks_every_page(notify, sms_template):
    sent = [
        notify.send_sms_notification("07700900123", str(sms_template.id), {"name": "n", "code": str(i)})["id"]
        for i in range(3)
    ]
    assert sorted(n["id"] for n in notify.get_all_notifications_iterator()) == sorted(sent)


def test_the_official_client_reads_our_errors(notify, sms_template):
    with pytest.raises(HTTPError) as raised:
        notify.send_sms_notification("07700900123", str(sms_template.id))
    assert raised.value.status_code == 400
    assert raised.value.message == [{"error": "BadRequestError", "message": "Missing personalisation: name, code"}]


def test_a_revoked_key_is_refused_to_the_official_client(notify, service):
    service.api_keys.get().revoke()
    with pytest.raises(HTTPError) as raised:
        notify.get_all_notifications()
    assert raised.value.status_code == 403
    assert raised.value.message == [{"error": "AuthError", "message": "Invalid token: API key revoked"}]


@pytest.mark.slow
def test_the_official_client_follows_an_sms_and_an_email_to_delivered(
    sns, notify, live_server, sms_template, email_template, sms_providers, ses, send_queues, start_sender
):
    sms_providers.expect_request("/firetext").respond_with_json({"code": 0, "description": "queued"})
    sms = notify.send_sms_notification("07700900123", str(sms_template.id), {"name": "Ada", "code": "1"})
    email = notify.send_email_notification("ada@example.com", str(email_template.id), {"name": "Ada"})
    assert notify.get_notification_by_id(sms["id"])["status"] == "created"
    sender = start_sender()

    def status(notification: dict) -> str:
        return notify.get_notification_by_id(notification["id"])["status"]

    wait_until(lambda: status(sms) == "sending" and status(email) == "sending", f"both sent\n{sender.output}")
    requests.post(
        f"{live_server.url}/notifications/sms/firetext", data={"status": "0", "reference": sms["id"]}, timeout=10
    )
    [accepted] = ses.messages()
    requests.post(
        f"{live_server.url}/notifications/email/ses", data=sns.sign(ses_body(message_id=accepted["id"])), timeout=10
    )

    fetched_sms, fetched_email = (notify.get_notification_by_id(n["id"]) for n in (sms, email))
    assert (fetched_sms["status"], fetched_email["status"]) == ("delivered", "delivered")
    for fetched in (fetched_sms, fetched_email):
        assert fetched["sent_at"] is not None
        assert fetched["completed_at"] >= fetched["sent_at"] >= fetched["created_at"]
        assert fetched["is_cost_data_ready"] is True
    assert fetched_sms["cost_details"] == {"billable_sms_fragments": 1}
    assert fetched_email["cost_details"] == {}
    delivered = notify.get_all_notifications(status="delivered")["notifications"]
    assert sorted(n["id"] for n in delivered) == sorted([sms["id"], email["id"]])
