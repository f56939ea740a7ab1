"""The admin lists every notifications model; statistics per service and day; notifications read-only."""

import pytest
from django.urls import reverse

from notifications.models import ApiKey


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
    assert "Sms requested" in content


def test_notifications_cannot_be_added_by_hand(admin_client_with_data):
    assert admin_client_with_data.get(reverse("admin:notifications_notification_add")).status_code == 403


def test_the_revoke_action_revokes_keys(admin_client_with_data, service):
    key = ApiKey.objects.get(service=service)
    response = admin_client_with_data.post(
        reverse("admin:notifications_apikey_changelist"),
        {"action": "revoke", "_selected_action": [str(key.id)]},
        follow=True,
    )
    assert "1 API keys revoked." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked
