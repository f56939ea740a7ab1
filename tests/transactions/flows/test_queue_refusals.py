"""A follow-up the queue service refuses for good, and a dead-letter write it refuses (spec Part A §11).

The reference dead-letters PROCESSING_ERROR when an enqueue fails (Part B §5.5, §5.6, §5.8) and
swallows a dead-letter write that fails in §5.6. A misconfigured queue name is the usual cause: the
queue service answers 404 QueueNotFound, and sending again can never help.
"""

import json
import logging

import pytest

from tests.transactions.flows.conftest import (
    dead_letters,
    deliver,
    queue_length,
    requests_to,
    store,
    stored_codes,
    view_status,
    visible_events,
)
from tests.transactions.flows.stories import TRACING_INFO, story
from transactions import events as ev
from transactions.store import load_events

pytestmark = pytest.mark.django_db(transaction=True, available_apps=["transactions", "receivers"])

TX = "c0ffee0000000000000000000000c0de"
MAIL_PATH = "/notifications-service/emails"
MISSING_QUEUE = "no-such-queue-misconfigured"


def test_a_retry_for_a_missing_queue_dead_letters_it_and_the_message_is_done(services, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(TRANSACTIONS_NOTIFICATIONS_RETRY_QUEUE_NAME=MISSING_QUEUE)
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({}, status=503)
    events = story("notification requested")
    store(events[:-1])

    deliver("notifications", events[-1])

    assert stored_codes(TX)[-2:] == [
        "TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT",
        "TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT",
    ]
    assert queue_length("notifications") == 0, "the decision is stored: the message is done, not redelivered"
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert letter["sourceQueue"] == "notifications-retry"
    assert MISSING_QUEUE in letter["error"]
    assert "404" in letter["error"]
    retry = load_events(TX)[-1].to_json_dict()
    assert json.loads(letter["originalMessage"]) == {"event": retry, "tracingInfo": TRACING_INFO}, (
        "the refused retry itself, so an operator can requeue it once the queue exists"
    )
    assert len(requests_to(services, MAIL_PATH)) == 1


def test_a_dead_letter_the_queue_service_refuses_is_swallowed_and_the_refund_still_goes_out(
    services, settings, statsd_listener, caplog
):
    settings.DISPATCHER = settings.DISPATCHER.replace(
        NOTIFICATION_RETRY_EVENT_MAX_ATTEMPTS=3,
        TRANSACTIONS_DEAD_LETTER_QUEUE_NAME=MISSING_QUEUE,
    )
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({}, status=503)
    events = story("notification error", receipt_outcome="KO")
    events.append(ev.TransactionUserReceiptAddRetriedEvent.new(TX, ev.TransactionRetriedData(retry_count=3)))
    store(events)

    with caplog.at_level(logging.ERROR):
        deliver("notifications-retry", events[-1])

    refund = load_events(TX)[-1].to_json_dict()
    assert refund["eventCode"] == "TRANSACTION_REFUND_REQUESTED_EVENT"
    assert view_status(TX) == "REFUND_REQUESTED"
    assert visible_events("refund") == [{"event": refund, "tracingInfo": TRACING_INFO}]
    assert queue_length("notifications-retry") == 0, "the handling completed: no redelivery every lease"
    assert any(record.levelno == logging.ERROR and MISSING_QUEUE in record.getMessage() for record in caplog.records)
    assert any(name.endswith(".outbox.dead_letter_refused") for name in statsd_listener.names("c"))
