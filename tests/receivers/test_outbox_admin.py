"""The outbox admin: operators see what waits or was refused, and send a refused row again once fixed."""

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from receivers.models import OutboxMessage
from receivers.outbox import Outbox
from receivers.relay import relay_due_rows, relay_rows
from tests.receivers.conftest import TRACEPARENT, queue_texts

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/receivers/outboxmessage/"
State = OutboxMessage.State


def refused_follow_up(settings) -> OutboxMessage:
    """A follow-up for a queue that does not exist (a misconfigured name): refused, then dead-lettered."""
    working = settings.DISPATCHER
    settings.DISPATCHER = working.replace(TRANSACTIONS_REFUND_QUEUE_NAME="no-such-refund-queue")
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "abc", "eventCode": "X"}, {"traceparent": TRACEPARENT})
    relay_rows(outbox.committed_row_ids)
    settings.DISPATCHER = working
    return OutboxMessage.objects.get(queue_key="refund")


def test_a_refused_row_is_listed_with_its_error_and_sent_again_on_request(queues, admin_client, settings):
    row = refused_follow_up(settings)
    assert row.state == State.REFUSED
    assert "404" in row.last_error

    page = admin_client.get(CHANGELIST + "?state__exact=REFUSED").content.decode()
    response = admin_client.post(CHANGELIST, {"action": "send_again", "_selected_action": [row.pk]}, follow=True)
    relay_due_rows()

    assert "abc" in page
    assert "refused by the queue service" in page
    assert "1 refused row(s) will be sent by the next relay sweep." in response.content.decode()
    row.refresh_from_db()
    assert row.state == State.SENT
    assert len(queue_texts("refund")) == 1, "sent to the queue that now has its right name"
    assert LogEntry.objects.filter(object_id=str(row.pk)).exists()


def test_the_changelist_query_count_does_not_grow_with_rows(queues, admin_client):
    def rows(count):
        outbox = Outbox()
        with outbox.decision():
            for number in range(count):
                outbox.send("refund", {"transactionId": f"t{number}"}, {"traceparent": TRACEPARENT})

    rows(2)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    rows(40)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(CHANGELIST).status_code == 200

    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_receivers_page_shows_what_waits_in_the_outbox_and_what_was_refused(queues, admin_client, settings):
    refused_follow_up(settings)  # refused, and its dead letter sent
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "waiting"}, {"traceparent": TRACEPARENT})

    page = admin_client.get(reverse("admin:receivers_receivercommand_status")).content.decode()

    outbox_paragraph = page[page.index('id="outbox"') : page.index("</p>", page.index('id="outbox"'))]
    assert "not sent yet: <a" in outbox_paragraph
    assert '?state__exact=PENDING"><strong>1</strong>' in outbox_paragraph
    assert '?state__exact=REFUSED"><strong>1</strong>' in outbox_paragraph


def test_the_dashboard_json_reports_the_outbox_for_alerting(queues, client, api_headers):
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "waiting"}, {"traceparent": TRACEPARENT})

    figures = client.get("/event-dispatcher/console/dashboard", headers=api_headers).json()

    assert figures["outbox"]["status"] == "UP"
    assert figures["outbox"]["pending"] == 1
    assert figures["outbox"]["refused"] == 0


def test_a_row_is_shown_with_addresses_and_numbers_masked(queues, admin_client):
    outbox = Outbox()
    with outbox.decision():
        outbox.send("refund", {"transactionId": "t", "data": {"to": "jane@example.com"}}, {"traceparent": TRACEPARENT})
    [row] = OutboxMessage.objects.all()

    page = admin_client.get(f"{CHANGELIST}{row.pk}/change/").content.decode()

    assert "j***@example.com" in page
    assert "jane@example.com" not in page
