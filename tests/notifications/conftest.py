"""Fixtures of the notifications tests: a service with keys and templates, notifications in any status,
a real UDP listener standing in for statsd, and an HTTPS stand-in for Amazon SNS that signs messages."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from notifications.models import EMAIL, FAILURE_STATUSES, SMS, ApiKey, DailyStatistics, Notification, Service, Template
from tests.notifications.sns_support import TOPIC, SnsStandIn, certificate, new_key, pem, start_https_server
from tests.statsd_support import StatsdListener

STATSD_PREFIX = "dispatcher"
STATSD_ENVIRONMENT = "test"


@pytest.fixture
def service(db):
    return Service.objects.create(
        name="Test service", email_from="test.service@notifications.localhost", sms_sender="TESTSENDER"
    )


@pytest.fixture
def api_key(service) -> str:
    """The full key string a client is configured with."""
    return ApiKey.issue(service, "test-key")[1]


@pytest.fixture
def sms_template(service):
    return Template.objects.create(
        service=service, name="sms", template_type=SMS, content="Hello ((name)), code ((code))"
    )


@pytest.fixture
def email_template(service):
    return Template.objects.create(
        service=service, name="email", template_type=EMAIL, subject="Hi ((name))", content="Dear ((name)), welcome."
    )


@pytest.fixture
def make_notification(service, sms_template, email_template):
    """A notification in any status, counted like one created through the API and given that status."""

    def make(
        status: str = "sending",
        notification_type: str = SMS,
        created_at: datetime | None = None,
        reference: str = "",
        sent_at: datetime | None = None,
        target_service: Service | None = None,
    ) -> Notification:
        template = sms_template if notification_type == SMS else email_template
        notification = Notification.objects.create(
            service=target_service or service,
            template=template,
            template_version=template.version,
            notification_type=notification_type,
            to="07700900000" if notification_type == SMS else "someone@example.com",
            body="body",
            status=status,
            reference=reference,
            sent_at=sent_at,
            created_at=created_at or timezone.now(),
        )
        outcomes = ["requested"]
        if status == "delivered":
            outcomes.append("delivered")
        elif status in FAILURE_STATUSES:
            outcomes.append("failed")
        for outcome in outcomes:
            counter = DailyStatistics.counter(notification_type, outcome)
            DailyStatistics.add(notification.service_id, notification.statistics_day, counter)
        return notification

    return make


def statistics_of(notification: Notification) -> dict[str, int]:
    row = DailyStatistics.objects.filter(service_id=notification.service_id, day=notification.statistics_day).first()
    return {c: getattr(row, c) if row else 0 for c in DailyStatistics.COUNTERS}


def ses_body(notification_type: str = "Delivery", message_id: str = "ses-message-1", **extra) -> str:
    event = {
        "notificationType": notification_type,
        "mail": {"timestamp": "2016-03-14T12:35:25.909Z", "source": "test@example.com", "messageId": message_id},
        **extra,
    }
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "8e83c020-1234-1234-1234-92a8ee9baa0a",
            "TopicArn": TOPIC,
            "Subject": None,
            "Message": json.dumps(event),
            "Timestamp": "2016-03-14T12:35:26.665Z",
        }
    )


@pytest.fixture(scope="session")
def sns_https_server(tmp_path_factory):
    """One loopback HTTPS server per session, its CA file, and the stand-in's signing key and certificate."""
    server, ca_file = start_https_server(tmp_path_factory.mktemp("sns"))
    key = new_key()
    yield server, ca_file, key, pem(certificate("sns.test", key, "sns.test", key))
    server.stop()


@pytest.fixture
def sns(sns_https_server, settings, monkeypatch) -> SnsStandIn:
    """SNS on loopback: SNS_HOST_PATTERN allows 127.0.0.1, and `requests` trusts the test CA."""
    server, ca_file, key, certificate_pem = sns_https_server
    server.clear()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(SNS_HOST_PATTERN=r"127\.0\.0\.1")):
        yield SnsStandIn(server, key, certificate_pem)


@pytest.fixture
def statsd_listener(settings):
    listener = StatsdListener(prefix=f"{STATSD_PREFIX}.{STATSD_ENVIRONMENT}.notifications.api.")
    config = settings.DISPATCHER.replace(
        STATSD_ENABLED=True,
        STATSD_HOST="127.0.0.1",
        STATSD_PORT=listener.port,
        STATSD_PREFIX=STATSD_PREFIX,
        ENVIRONMENT=STATSD_ENVIRONMENT,
    )
    with override_settings(DISPATCHER=config):
        yield listener
    listener.close()


@pytest.fixture
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises every writer, so there is no race to prove")
