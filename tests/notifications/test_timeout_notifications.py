"""manage.py timeout_notifications: created, sending and pending past the period become temporary-failure."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from notifications.dao import timeout_notifications
from notifications.models import KEY_TYPE_TEST, Notification
from tests.notifications.conftest import statistics_of


@pytest.fixture
def old_and_new(make_notification):
    old = timezone.now() - timedelta(hours=73)
    recent = timezone.now() - timedelta(hours=71)
    return {
        "old_created": make_notification(status="created", created_at=old),
        "old_sending": make_notification(status="sending", created_at=old),
        "old_pending": make_notification(status="pending", created_at=old),
        "old_email": make_notification(status="sending", notification_type="email", created_at=old),
        "old_delivered": make_notification(status="delivered", created_at=old),
        "recent_sending": make_notification(status="sending", created_at=recent),
    }


def statuses(notifications):
    return {name: Notification.objects.get(id=n.id).status for name, n in notifications.items()}


def test_old_unfinished_notifications_time_out_and_count_once(old_and_new, capsys):
    call_command("timeout_notifications")
    call_command("timeout_notifications")

    assert statuses(old_and_new) == {
        "old_created": "temporary-failure",
        "old_sending": "temporary-failure",
        "old_pending": "temporary-failure",
        "old_email": "temporary-failure",
        "old_delivered": "delivered",
        "recent_sending": "sending",
    }
    assert statistics_of(old_and_new["old_sending"])["sms_failed"] == 3
    assert statistics_of(old_and_new["old_email"])["emails_failed"] == 1
    output = capsys.readouterr().out
    assert "4 notifications timed out" in output
    assert "0 notifications timed out" in output
    call_command("rebuild_statistics", "--check")


def test_the_period_comes_from_the_configuration(old_and_new, settings):
    period = int(timedelta(hours=70).total_seconds())
    config = settings.DISPATCHER.replace(SENDING_NOTIFICATIONS_TIMEOUT_PERIOD=period)
    with override_settings(DISPATCHER=config):
        call_command("timeout_notifications")
    assert statuses(old_and_new)["recent_sending"] == "temporary-failure"


def test_a_receipt_after_the_timeout_is_ignored(client, old_and_new):
    notification = old_and_new["old_sending"]
    call_command("timeout_notifications")
    response = client.post("/notifications/sms/firetext", {"status": "0", "reference": str(notification.id)})
    assert response.status_code == 200
    assert statistics_of(notification)["sms_delivered"] == 1  # only old_delivered


def test_a_test_keys_notification_times_out_uncounted(make_notification, service):
    old = timezone.now() - timedelta(days=4)
    simulated = make_notification(status="sending", created_at=old)
    Notification.objects.filter(id=simulated.id).update(key_type=KEY_TYPE_TEST)
    before = statistics_of(simulated)

    assert timeout_notifications(72 * 3600) == 1

    assert Notification.objects.get(id=simulated.id).status == "temporary-failure"
    assert statistics_of(simulated) == before
