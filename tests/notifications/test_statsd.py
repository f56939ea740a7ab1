"""statsd as a real UDP listener sees it: names, prefix and namespace, decorator, request and callback metrics."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from dispatcher_site.instrumentation import statsd
from dispatcher_site.metrics import statsd_client
from tests.notifications.conftest import ses_body
from tests.notifications.test_v2_api import post_sms


def test_every_stat_carries_prefix_environment_and_namespace(statsd_listener):
    statsd_client().incr("some.stat")
    statsd_client().timing("some.timer", 12.5)
    assert statsd_listener.metrics() == [("some.stat", "1", "c"), ("some.timer", "12.500000", "ms")]


def test_nothing_is_sent_and_no_socket_opened_when_disabled(statsd_listener, settings):
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(STATSD_ENABLED=False)):
        client = statsd_client()
        client.incr("some.stat")
        assert client._client is None
    assert statsd_listener.metrics() == []


def test_the_decorator_sends_a_count_and_a_timing_named_after_the_function(statsd_listener):
    @statsd(namespace="dao")
    def fetch_something(value):
        return value * 2

    assert fetch_something(21) == 42
    assert fetch_something.__name__ == "fetch_something"
    assert statsd_listener.names() == ["dao.fetch_something", "dao.fetch_something"]
    assert [kind for _, _, kind in statsd_listener.metrics()] == ["c", "ms"]


def test_the_decorator_sends_nothing_when_the_function_raises(statsd_listener):
    @statsd(namespace="dao")
    def broken():
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        broken()
    assert statsd_listener.metrics() == []


def test_a_callback_sends_request_dao_and_callback_metrics(client, make_notification, statsd_listener):
    notification = make_notification(status="sending", sent_at=timezone.now() - timedelta(seconds=5))
    statsd_listener.metrics()  # forget what creating the fixture sent

    client.post("/notifications/sms/firetext", {"status": "0", "reference": str(notification.id)})

    counts = statsd_listener.names("c")
    assert "dao.update_notification_status_by_id" in counts
    assert "callback.firetext.delivered" in counts
    assert "POST.notifications.process_firetext_response.200" in counts
    timings = {name: float(value) for name, value, kind in statsd_listener.metrics() if kind == "ms"}
    assert timings["callback.firetext.elapsed-time"] >= 5000
    assert "POST.notifications.process_firetext_response.200" in timings


def test_elapsed_time_is_skipped_when_never_sent(client, make_notification, statsd_listener):
    notification = make_notification(status="sending")
    client.post("/notifications/sms/firetext", {"status": "2", "reference": str(notification.id)})
    names = statsd_listener.names()
    assert "callback.firetext.pending" in names
    assert "callback.firetext.elapsed-time" not in names


def test_ignored_duplicates_and_refused_credentials_are_counted(client, make_notification, statsd_listener, settings):
    notification = make_notification(status="delivered")
    client.post("/notifications/sms/mmg", {"status": "3", "CID": str(notification.id)}, content_type="application/json")
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(MMG_CALLBACK_TOKEN="t")):
        client.post(
            "/notifications/sms/mmg", {"status": "3", "CID": str(notification.id)}, content_type="application/json"
        )
    names = statsd_listener.names("c")
    assert "callback.mmg.ignored" in names
    assert "callback.mmg.unauthorised" in names
    assert "POST.notifications.process_mmg_response.401" in names


def test_error_answers_are_counted_by_status_code(client, db, statsd_listener):
    client.post("/notifications/email/ses", "nonsense", content_type="text/plain")
    assert "POST.notifications.process_ses_response.400" in statsd_listener.names("c")


def test_unrouted_requests_send_no_request_metric(client, db, statsd_listener):
    client.get("/no/such/page")
    assert statsd_listener.metrics() == []


def test_creating_a_notification_sends_the_dao_metric(client, api_key, sms_template, statsd_listener):
    body = {
        "phone_number": "07700900123",
        "template_id": str(sms_template.id),
        "personalisation": {"name": "a", "code": 1},
    }
    assert post_sms(client, api_key, body).status_code == 201
    names = statsd_listener.names("c")
    assert "dao.create_notification" in names
    assert "POST.notifications.post_sms_notification.201" in names


def test_ses_receipts_and_the_timeout_task_send_their_metrics(client, sns, make_notification, statsd_listener):
    make_notification(status="sending", notification_type="email", reference="ses-message-1")
    client.post("/notifications/email/ses", sns.sign(ses_body()), content_type="text/plain")
    call_command("timeout_notifications")
    names = statsd_listener.names("c")
    assert "dao.update_notification_status_by_reference" in names
    assert "callback.ses.delivered" in names
    assert "tasks.timeout_notifications" in names
