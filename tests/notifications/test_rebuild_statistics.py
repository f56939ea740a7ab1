"""manage.py rebuild_statistics [--check]: recomputes the counters from the notification rows."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from notifications.models import DailyStatistics
from tests.notifications.conftest import statistics_of


@pytest.fixture
def notifications(make_notification):
    day = datetime(2016, 5, 1, 12, tzinfo=UTC)
    return [
        make_notification(status="delivered", created_at=day),
        make_notification(status="temporary-failure", created_at=day),
        make_notification(status="pending", created_at=day),
        make_notification(status="failed", notification_type="email", created_at=day),
    ]


def test_check_reports_every_difference_and_changes_nothing(notifications, capsys):
    DailyStatistics.objects.update(sms_delivered=0, sms_failed=0, emails_failed=0)
    with pytest.raises(CommandError, match="3 statistics counters differ"):
        call_command("rebuild_statistics", "--check")
    output = capsys.readouterr().out
    assert "sms_delivered: stored 0, computed 1" in output
    assert "sms_failed: stored 0, computed 1" in output
    assert "emails_failed: stored 0, computed 1" in output
    assert statistics_of(notifications[0])["sms_delivered"] == 0


def test_rebuild_sets_the_counters_to_what_the_rows_say(notifications, capsys):
    DailyStatistics.objects.update(sms_requested=F("sms_requested") + 7, sms_failed=0, emails_delivered=2)

    call_command("rebuild_statistics")

    assert statistics_of(notifications[0]) == {
        "emails_requested": 1,
        "emails_delivered": 0,
        "emails_failed": 1,
        "sms_requested": 3,
        "sms_delivered": 1,
        "sms_failed": 1,
    }
    assert "3 counters corrected" in capsys.readouterr().out
    call_command("rebuild_statistics", "--check")


def test_rebuild_creates_a_missing_row_and_zeroes_a_row_without_notifications(notifications, service):
    DailyStatistics.objects.all().delete()
    DailyStatistics.objects.create(service=service, day=datetime(2015, 1, 1).date(), sms_requested=4)

    call_command("rebuild_statistics")

    assert statistics_of(notifications[0])["sms_requested"] == 3
    assert DailyStatistics.objects.get(day=datetime(2015, 1, 1).date()).sms_requested == 0
