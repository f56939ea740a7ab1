"""Fixtures of the notifications tests: a service with keys and templates, notifications in any status,
a real UDP listener standing in for statsd, and an HTTPS stand-in for Amazon SNS that signs messages."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from pytest_httpserver import HTTPServer

from notifications.models import (
    EMAIL,
    FAILURE_STATUSES,
    SMS,
    ApiKey,
    DailyStatistics,
    Notification,
    Provider,
    Service,
    Template,
)
from receivers.queues import queue_client
from tests import ses_stand_in
from tests.notifications.sns_support import TOPIC, SnsStandIn, certificate, new_key, pem, start_https_server
from tests.receivers.conftest import FAST_CONSUMER_ENV, ConsumerProcess
from tests.ses_stand_in import SesStandIn
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
    day = DailyStatistics.objects.filter(service_id=notification.service_id, day=notification.statistics_day)
    totals = next(iter(day.per_day()), None)
    return {c: totals[c] if totals else 0 for c in DailyStatistics.COUNTERS}


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
    # Through the `settings` fixture, so that tests changing settings too are undone in the right order.
    settings.DISPATCHER = settings.DISPATCHER.replace(SNS_HOST_PATTERN=r"127\.0\.0\.1")
    return SnsStandIn(server, key, certificate_pem)


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


# --- sending: providers, their stand-ins, the send queues ---------------------------------------------

SENDING_QUEUES = ("send-sms", "send-email")
FIRETEXT_KEY = "firetext-test-key"
MMG_USER, MMG_PASSWORD = "mmg-user", "mmg-password"
SEEDED_PROVIDERS = [("ses", "Amazon SES", EMAIL, 10), ("firetext", "Firetext", SMS, 10), ("mmg", "MMG", SMS, 20)]


def configure(settings, **values) -> None:
    settings.DISPATCHER = settings.DISPATCHER.replace(**values)


@pytest.fixture
def providers(db):
    """The provider table as migration 0002 seeds it (transactional tests empty every table after them)."""
    for identifier, name, notification_type, priority in SEEDED_PROVIDERS:
        Provider.objects.update_or_create(
            identifier=identifier,
            defaults={
                "display_name": name,
                "notification_type": notification_type,
                "priority": priority,
                "active": True,
            },
        )
    return {provider.identifier: provider for provider in Provider.objects.all()}


@pytest.fixture(scope="session")
def provider_server():
    """A loopback HTTP server answering requests in parallel, as real providers do."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def sms_providers(provider_server, settings, providers):
    """Firetext and MMG as one loopback HTTP server (paths /firetext and /mmg), configured with short timeouts."""
    httpserver = provider_server
    httpserver.clear()
    configure(
        settings,
        FIRETEXT_URL=httpserver.url_for("/firetext"),
        FIRETEXT_API_KEY=FIRETEXT_KEY,
        FIRETEXT_READ_TIMEOUT=1000,
        MMG_URL=httpserver.url_for("/mmg"),
        MMG_USERNAME=MMG_USER,
        MMG_PASSWORD=MMG_PASSWORD,
        MMG_READ_TIMEOUT=1000,
    )
    return httpserver


@pytest.fixture(scope="session")
def ses_server(tmp_path_factory):
    server = SesStandIn(tmp_path_factory.mktemp("moto") / "recording.jsonl")
    yield server
    server.stop()


@pytest.fixture
def ses(ses_server, settings, providers):
    """SES (moto's server), emptied, with the sending domain verified, and the service configured for it."""
    ses_server.reset(settings.DISPATCHER.NOTIFY_EMAIL_DOMAIN)
    configure(
        settings,
        SES_REGION=ses_stand_in.REGION,
        SES_ENDPOINT_URL=ses_server.url,
        SES_ACCESS_KEY_ID=ses_stand_in.ACCESS_KEY_ID,
        SES_SECRET_ACCESS_KEY=ses_stand_in.SECRET_ACCESS_KEY,
        SES_READ_TIMEOUT=5000,
    )
    return ses_server


@pytest.fixture
def send_queues(queues_created):
    """The send queues and the dead-letter queue, emptied before the test."""
    for key in ("send-sms", "send-email", "dead-letter"):
        queue_client(key).clear_messages()


def provider_environment(settings) -> dict[str, str]:
    """The providers' variables of the test's configuration, for a consumer subprocess."""
    names = [
        "FIRETEXT_URL",
        "FIRETEXT_API_KEY",
        "MMG_URL",
        "MMG_USERNAME",
        "MMG_PASSWORD",
        "SES_REGION",
        "SES_ENDPOINT_URL",
        "SES_ACCESS_KEY_ID",
        "SES_SECRET_ACCESS_KEY",
        "NOTIFY_EMAIL_DOMAIN",
    ]
    return {name: str(getattr(settings.DISPATCHER, name)) for name in names}


@pytest.fixture
def start_sender(subprocess_env, manage_py, settings):
    """Start `manage.py consume_queue send-sms send-email` (fast polling, the test's providers); every
    process is killed after the test."""
    started: list[ConsumerProcess] = []

    def start(*queues: str, **env: str) -> ConsumerProcess:
        environment = {**subprocess_env, **FAST_CONSUMER_ENV, **provider_environment(settings), **env}
        process = ConsumerProcess([*manage_py, "consume_queue", *(queues or SENDING_QUEUES)], environment)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
