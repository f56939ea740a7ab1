"""GET /service/{id}/notifications-statistics behind the operator x-api-key."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import DailyStatistics


def url(service_id, query=""):
    return f"/service/{service_id}/notifications-statistics{query}"


def test_the_statistics_of_a_service_newest_day_first(client, api_headers, service, make_notification):
    today = timezone.now()
    make_notification(status="delivered", created_at=today - timedelta(days=3))
    make_notification(status="sending", notification_type="email", created_at=today)

    response = client.get(url(service.id), headers=api_headers)

    assert response.status_code == 200
    data = response.json()["data"]
    assert [row["day"] for row in data] == [today.date().isoformat(), (today - timedelta(days=3)).date().isoformat()]
    assert data[0]["emails_requested"] == 1
    assert data[0]["service"] == str(service.id)
    assert data[1]["sms_requested"] == 1


def test_limit_days_keeps_only_the_last_days(client, api_headers, service, make_notification):
    today = timezone.now()
    make_notification(created_at=today - timedelta(days=3))
    make_notification(created_at=today)
    response = client.get(url(service.id, "?limit_days=1"), headers=api_headers)
    assert [row["day"] for row in response.json()["data"]] == [today.date().isoformat()]


def test_limit_days_must_be_an_integer(client, api_headers, service):
    response = client.get(url(service.id, "?limit_days=abc"), headers=api_headers)
    assert response.status_code == 400
    assert response.json() == {"result": "error", "message": {"limit_days": ["abc is not an integer"]}}


def test_an_unknown_service_is_404(client, api_headers, db):
    response = client.get(url(uuid.uuid4()), headers=api_headers)
    assert response.status_code == 404


def test_the_operator_key_is_required(client, service):
    assert client.get(url(service.id)).status_code == 401


def test_a_service_without_statistics_has_an_empty_list(client, api_headers, service):
    DailyStatistics.objects.all().delete()
    assert client.get(url(service.id), headers=api_headers).json() == {"data": []}


@pytest.mark.parametrize("days", ["-1", "36501", "100000000000000000000"])
def test_limit_days_must_be_within_a_hundred_years(client, api_headers, service, days):
    response = client.get(url(service.id, f"?limit_days={days}"), headers=api_headers)
    assert response.status_code == 400
    assert response.json() == {"result": "error", "message": {"limit_days": [f"{days} is not between 0 and 36500"]}}
