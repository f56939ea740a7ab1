"""Notifications (spec §5.5): the receipt mail of a NOTIFICATION_REQUESTED transaction, via the queue."""

import json

import pytest

from tests.transactions.factories import NPG_AUTHORIZATION
from tests.transactions.flows.conftest import (
    EMAIL,
    dead_letters,
    deliver,
    hidden_count,
    requests_to,
    status_spans,
    store,
    stored_codes,
    view_status,
    visible_events,
)
from tests.transactions.flows.stories import TRACING_INFO, story
from transactions.store import load_events

pytestmark = pytest.mark.django_db(transaction=True, available_apps=["transactions", "receivers"])

TX = "c0ffee0000000000000000000000c0de"
MAIL_PATH = "/notifications-service/emails"


def receipt_requested(**options):
    """The history before the USER_RECEIPT_REQUESTED event stored, and that event (to deliver)."""
    events = story("notification requested", **options)
    store(events[:-1])
    return events[-1]


def test_ok_receipt_sends_the_success_mail_and_records_notified_ok(services, sent_messages, spans):
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({"outcome": "OK"})
    requested = receipt_requested()

    deliver("notifications", requested)

    [pdv] = requests_to(services, "/pdv")
    assert pdv.headers["x-api-key"] == "pdv-key"
    [mail] = requests_to(services, MAIL_PATH)
    assert mail.headers["ocp-apim-subscription-key"] == "notifications-key"
    body = json.loads(mail.data)
    assert {key: body[key] for key in ("to", "subject", "language", "templateId")} == {
        "to": EMAIL,
        "subject": "Il riepilogo del tuo pagamento",
        "language": "it-IT",
        "templateId": "success",
    }
    assert body["parameters"]["transaction"]["amount"] == "121,50"
    assert body["parameters"]["transaction"]["timestamp"] == "25 settembre 2023, 14:46:10"
    assert body["parameters"]["user"] == {"data": None, "email": EMAIL}

    events = load_events(TX)
    assert [e.event_code.value for e in events[-2:]] == [
        "TRANSACTION_USER_RECEIPT_REQUESTED_EVENT",
        "TRANSACTION_USER_RECEIPT_ADDED_EVENT",
    ]
    assert events[-1].to_json_dict()["data"] == requested.to_json_dict()["data"]
    assert view_status(TX) == "NOTIFIED_OK"
    assert sent_messages == []
    assert dead_letters() == []
    assert [span["updateTransactionStatus.type"] for span in status_spans(spans)] == ["USER_RECEIPT_NOTIFICATION"]
    finished = spans.get_finished_spans()
    [consumer] = [span for span in finished if span.name == "notifications"]
    [status_span] = [span for span in finished if span.name == "Transaction status updated"]
    assert status_span.parent.span_id == consumer.context.span_id
    assert f"{consumer.context.trace_id:032x}" == TRACING_INFO["traceparent"].split("-")[1]


def test_a_mail_accepted_for_later_delivery_counts_as_sent(services, sent_messages):
    services.expect_request(MAIL_PATH, method="POST").respond_with_data("", status=202)
    deliver("notifications", receipt_requested())

    assert stored_codes(TX)[-1] == "TRANSACTION_USER_RECEIPT_ADDED_EVENT"
    assert view_status(TX) == "NOTIFIED_OK"


def test_ko_receipt_sends_the_ko_mail_and_requests_the_refund(services, sent_messages):
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({"outcome": "OK"})
    deliver("notifications", receipt_requested(receipt_outcome="KO"))

    [mail] = requests_to(services, MAIL_PATH)
    body = json.loads(mail.data)
    assert (body["templateId"], body["subject"], body["parameters"]["transaction"]["amount"]) == (
        "ko",
        "Il pagamento non è riuscito",
        "120,00",
    )
    events = load_events(TX)
    assert [e.event_code.value for e in events[-2:]] == [
        "TRANSACTION_USER_RECEIPT_ADDED_EVENT",
        "TRANSACTION_REFUND_REQUESTED_EVENT",
    ]
    refund_requested = events[-1].to_json_dict()
    assert refund_requested["data"] == {"statusBeforeRefunded": "NOTIFIED_KO", "gatewayAuthData": NPG_AUTHORIZATION}
    assert view_status(TX) == "REFUND_REQUESTED"
    assert visible_events("refund") == [{"event": refund_requested, "tracingInfo": TRACING_INFO}]
    assert sent_messages == [("refund", {"event": refund_requested, "tracingInfo": TRACING_INFO}, 0)]


@pytest.mark.parametrize(
    ("mail_status", "pdv_status", "outcome"),
    [
        (500, 200, "OK"),  # the notifications service fails
        (400, 200, "OK"),  # any status but 200/202 is a failure
        (None, 404, "OK"),  # the e-mail cannot be decrypted: no mail at all
        (None, 200, "NOT_RECEIVED"),  # no mail for a receipt Nodo never sent
    ],
)
def test_a_mail_not_sent_records_the_error_and_schedules_retry_1(
    services, sent_messages, spans, settings, mail_status, pdv_status, outcome
):
    settings.DISPATCHER = settings.DISPATCHER.replace(NOTIFICATION_RETRY_EVENT_BASE_INTERVAL_SECONDS=600)
    if mail_status:
        services.expect_request(MAIL_PATH, method="POST").respond_with_json({}, status=mail_status)
    if pdv_status != 200:
        services.clear_all_handlers()
        services.expect_request("/pdv/tokens/5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f/pii").respond_with_json(
            {}, status=pdv_status
        )
    requested = receipt_requested(receipt_outcome=outcome)

    deliver("notifications", requested)

    assert len(requests_to(services, MAIL_PATH)) == (1 if mail_status else 0)
    events = load_events(TX)
    assert [e.event_code.value for e in events[-2:]] == [
        "TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT",
        "TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT",
    ]
    assert events[-2].to_json_dict()["data"] == requested.to_json_dict()["data"]
    retry = events[-1].to_json_dict()
    assert retry["data"] == {"retryCount": 1}
    assert view_status(TX) == "NOTIFICATION_ERROR"
    assert sent_messages == [("notifications-retry", {"event": retry, "tracingInfo": TRACING_INFO}, 600)]
    assert hidden_count("notifications-retry") == 1, "the retry waits for its visibility delay"
    assert dead_letters() == []
    [span] = status_spans(spans)
    assert span["updateTransactionStatus.outcome"] == "PROCESSING_ERROR"


@pytest.mark.parametrize(
    ("until", "status"),
    [
        ("closure requested", "CLOSURE_REQUESTED"),  # stored, but the reduction ignores it there
        ("notification error", "NOTIFICATION_ERROR"),  # a late redelivery: the retry queue owns it now
    ],
)
def test_a_transaction_not_waiting_for_its_receipt_is_dead_lettered_without_a_mail(
    services, sent_messages, until, status
):
    store(story(until))
    requested = story("notification requested")[-1] if until == "closure requested" else load_events(TX)[5]
    stored_before = stored_codes(TX)

    deliver("notifications", requested)

    assert requests_to(services, MAIL_PATH) == []
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"], letter["sourceQueue"]) == (
        "PROCESSING_ERROR",
        TX,
        "TRANSACTION_USER_RECEIPT_REQUESTED_EVENT",
        "notifications",
    )
    assert status in letter["error"]
    assert json.loads(letter["originalMessage"]) == {"event": requested.to_json_dict(), "tracingInfo": TRACING_INFO}
    assert stored_codes(TX)[: len(stored_before)] == stored_before
    assert "TRANSACTION_USER_RECEIPT_ADDED_EVENT" not in stored_codes(TX)
    assert sent_messages == []


def test_a_repeated_receipt_request_does_not_mail_twice(services, sent_messages):
    services.expect_request(MAIL_PATH, method="POST").respond_with_json({"outcome": "OK"})
    requested = receipt_requested()
    deliver("notifications", requested)

    deliver("notifications", requested)

    assert len(requests_to(services, MAIL_PATH)) == 1
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert "NOTIFIED_OK" in letter["error"]
    assert stored_codes(TX).count("TRANSACTION_USER_RECEIPT_ADDED_EVENT") == 1
