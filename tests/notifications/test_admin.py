"""The admin lists every notifications model; statistics per service and day; notifications read-only."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import ApiKey, Notification


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The admin login's PBKDF2 would cost a second per test on this machine; hashing is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_client_with_data(admin_client, make_notification, api_key):
    make_notification(status="delivered")
    return admin_client


@pytest.mark.parametrize("model", ["service", "apikey", "template", "notification", "dailystatistics"])
def test_each_changelist_renders(admin_client_with_data, model):
    response = admin_client_with_data.get(reverse(f"admin:notifications_{model}_changelist"))
    assert response.status_code == 200


def test_statistics_are_shown_per_service_and_day(admin_client_with_data, service):
    response = admin_client_with_data.get(reverse("admin:notifications_dailystatistics_changelist"))
    content = response.content.decode()
    assert "Test service" in content
    assert "SMS requested" in content


def test_notifications_cannot_be_added_by_hand(admin_client_with_data):
    assert admin_client_with_data.get(reverse("admin:notifications_notification_add")).status_code == 403


def test_revoking_asks_first_then_revokes_and_records_it_in_the_history(admin_client_with_data, service):
    key = ApiKey.objects.get(service=service)
    changelist = reverse("admin:notifications_apikey_changelist")
    selected = {"action": "revoke", "_selected_action": [str(key.id)]}

    asked = admin_client_with_data.post(changelist, selected).content.decode()
    key.refresh_from_db()
    assert not key.revoked
    assert "Yes, revoke" in asked
    assert "test-key" in asked

    response = admin_client_with_data.post(changelist, {**selected, "confirm": "yes"}, follow=True)

    assert "1 API keys revoked." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked
    history = admin_client_with_data.get(reverse("admin:notifications_apikey_history", args=[key.pk]))
    assert "Revoked" in history.content.decode()


@pytest.fixture
def operator_without_recipients(client, db):
    """Staff who may view notifications and statistics, not recipients."""
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in ("view_notification", "view_dailystatistics"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return client


def test_recipients_are_masked_and_bodies_hidden_without_the_permission(operator_without_recipients, make_notification):
    sms = make_notification(status="delivered")
    email = make_notification(status="delivered", notification_type="email")
    changelist = reverse("admin:notifications_notification_changelist")

    listing = operator_without_recipients.get(changelist).content.decode()
    page = operator_without_recipients.get(reverse("admin:notifications_notification_change", args=[sms.pk]))
    searched = operator_without_recipients.get(changelist, {"q": "07700900000"}).content.decode()

    assert "07******000" in listing
    assert "s***@example.com" in listing
    assert "07700900000" not in listing
    assert "someone@example.com" not in listing
    assert "hidden (needs the recipient permission)" in page.content.decode()
    assert ">body<" not in page.content.decode().replace("</label>", "<")
    assert "0 notifications" in searched, "no search by recipient without the permission"
    assert email.pk


def test_the_permission_shows_recipients_and_bodies(admin_client, make_notification):
    sms = make_notification(status="delivered")
    changelist = reverse("admin:notifications_notification_changelist")

    listing = admin_client.get(changelist).content.decode()
    page = admin_client.get(reverse("admin:notifications_notification_change", args=[sms.pk])).content.decode()

    assert "07700900000" in listing
    assert "<pre" in page
    assert ">body<" in page
    assert "1 notification" in admin_client.get(changelist, {"q": "07700900000"}).content.decode()


def test_sent_by_and_the_provider_status_are_explained(admin_client, make_notification):
    notification = make_notification(status="permanent-failure")
    Notification.objects.filter(pk=notification.pk).update(sent_by="mmg", provider_status="5")

    page = admin_client.get(reverse("admin:notifications_notification_change", args=[notification.pk]))

    content = page.content.decode()
    assert "mmg: MMG (SMS), the provider that took the message" in content
    assert "5: “Permanent failure” → permanent-failure (counted as failed)" in content


def test_statistics_show_failure_rates_and_each_count_links_to_its_notifications(
    operator_without_recipients, make_notification, service
):
    for status in ("delivered", "delivered", "permanent-failure", "temporary-failure"):
        make_notification(status=status)
    make_notification(status="delivered", notification_type="email")
    other_day = make_notification(status="permanent-failure", created_at=timezone.now() - timedelta(days=3))
    changelist = reverse("admin:notifications_dailystatistics_changelist")

    content = operator_without_recipients.get(changelist).content.decode()

    assert "50.0 %" in content  # 2 of 4 SMS failed today
    assert "100.0 %" in content  # the other day's one SMS failed
    assert "40.0 %" in content  # all of today: 2 of 5
    assert 'id="statistics-totals"' in content
    links = re.findall(r'href="(/admin/notifications/notification/\?[^"]+)">2<', content)
    failed_sms = next(link for link in links if "status__in" in link and "notification_type__exact=sms" in link)
    behind = operator_without_recipients.get(failed_sms.replace("&amp;", "&")).content.decode()
    assert "2 notifications" in behind
    assert str(other_day.pk) not in behind


def test_the_lists_cost_the_same_queries_for_few_or_many_rows(operator_without_recipients, make_notification):
    def queries(url) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator_without_recipients.get(url).status_code == 200
        return len(captured)

    urls = [reverse(f"admin:notifications_{model}_changelist") for model in ("notification", "dailystatistics")]
    make_notification(status="delivered")
    few = [queries(url) for url in urls]
    for days in range(20):
        make_notification(status="delivered", created_at=timezone.now() - timedelta(days=days))

    assert [queries(url) for url in urls] == few
