"""GOV.UK Notify's official `notifications-python-client`, unchanged, against our v2 API on a live server."""

import pytest
from notifications_python_client import NotificationsAPIClient
from notifications_python_client.errors import HTTPError

from notifications.models import Notification

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
