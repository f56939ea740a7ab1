"""Expiration (spec §5.2) through real messages on the expiration queue."""

import pytest
from django.db import connections
from werkzeug import Response

from tests.transactions.factories import TX, C, make_event
from tests.transactions.handlers.builders import (
    CORRELATION_ID,
    TRACING,
    activated,
    closed,
    closure_error,
    closure_requested,
    codes,
    dated,
    expired,
    payment,
    refund_error,
    refund_requested,
    store_history,
    stored_state,
    user_canceled,
)
from tests.transactions.handlers.conftest import (
    HANDLER_DB,
    consume,
    dead_letters,
    deliver,
    hidden_count,
    queue_length,
    requests_to,
    visible_events,
    wait_until_visible,
)
from tests.transactions.handlers.interruptions import decide_and_die, redeliver
from tests.transactions.handlers.npg_orders import AUTHORIZATION_FROM_ORDER, ORDER_PATH, npg_order_answers
from transactions.models import Transaction
from transactions.store import store_incoming_event

pytestmark = HANDLER_DB


def receipt(code, outcome):
    return make_event(code, {"responseOutcome": outcome, "language": "it-IT", "paymentDate": None})


def expire_now(events, ages=None):
    """Store the history and deliver its ACTIVATED event on the expiration queue."""
    stored = store_history(events, ages)
    deliver("expiration", stored[0].to_json_dict())
    return stored


def view_status():
    return Transaction.objects.get(pk=TX).status


def last_data():
    return stored_state().events[-1].to_json_dict()["data"]


@pytest.fixture
def no_npg_delay(settings, stand_ins):
    settings.DISPATCHER = settings.DISPATCHER.replace(NPG_REFUND_DELAY_FROM_AUTH_REQUEST_MINUTES=0)
    return stand_ins


@pytest.mark.parametrize(
    ("history", "status_before", "view"),
    [
        ([], "ACTIVATED", "EXPIRED_NOT_AUTHORIZED"),
        ([user_canceled], "CANCELLATION_REQUESTED", "CANCELLATION_EXPIRED"),
        ([user_canceled, closure_error], "CLOSURE_ERROR", "CANCELLATION_EXPIRED"),
    ],
)
def test_a_transaction_without_authorization_expires_and_is_not_refunded(stand_ins, history, status_before, view):
    expire_now([activated(), *[make() for make in history]])

    assert codes()[-1] == "EXPIRED"
    assert last_data() == {"statusBeforeExpiration": status_before}
    assert view_status() == view
    assert queue_length("refund") == 0
    assert dead_letters() == []
    assert queue_length("expiration") == 0


def test_a_redelivered_expiration_expires_once(stand_ins):
    events = expire_now([activated()])

    deliver("expiration", events[0].to_json_dict())

    assert codes() == ["ACTIVATED", "EXPIRED"]


@pytest.mark.parametrize(
    ("history", "status_before"),
    [
        (lambda: [*payment("CP")], "AUTHORIZATION_COMPLETED"),
        (lambda: [*payment("CP"), closure_requested()], "CLOSURE_REQUESTED"),
        (lambda: [*payment("CP"), closure_requested(), closure_error()], "CLOSURE_ERROR"),
        (lambda: [*payment("RBPB"), closure_requested()], "CLOSURE_REQUESTED"),
    ],
)
def test_an_authorized_transaction_that_was_never_closed_needs_a_manual_refund_check(stand_ins, history, status_before):
    expire_now([activated(), *history()])

    assert codes()[-1] == "EXPIRED"
    assert last_data() == {"statusBeforeExpiration": status_before}
    assert view_status() == "EXPIRED"
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"]) == (
        "REFUND_MANUAL_CHECK_REQUIRED",
        TX,
        "TRANSACTION_ACTIVATED_EVENT",
    )
    assert queue_length("refund") == 0
    assert requests_to(stand_ins, "/npg/") == []


@pytest.mark.parametrize("before", [[], [closure_requested]])
def test_a_denied_authorization_expires_without_refund(stand_ins, before):
    expire_now([activated(), *payment("CP", authorized=False), *[make() for make in before]])

    assert codes()[-1] == "EXPIRED"
    assert queue_length("refund") == 0
    assert dead_letters() == []


def test_a_redirect_payment_without_outcome_is_refunded_at_once(stand_ins):
    expire_now([activated(), *payment("RBPB", completed=False)])

    assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"]
    assert last_data() == {"statusBeforeRefunded": "EXPIRED", "gatewayAuthData": None}
    assert view_status() == "REFUND_REQUESTED"
    [message] = visible_events("refund")
    assert message == {"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}


def test_an_npg_payment_without_outcome_waits_for_the_refund_delay_then_refunds(stand_ins, settings):
    # Requested 58.5 s ago with a 1-minute delay and no margin: the message comes back about 2 s later.
    settings.DISPATCHER = settings.DISPATCHER.replace(
        NPG_REFUND_DELAY_FROM_AUTH_REQUEST_MINUTES=1, NPG_REFUND_EVENT_PROCESSING_DELAY_SECONDS=0
    )
    npg_order_answers(stand_ins, "authorized")
    events = expire_now([activated(), *payment("CP", completed=False)], ages=[59, 58.5])

    assert codes()[-1] == "EXPIRED"
    assert queue_length("refund") == 0
    assert hidden_count("expiration") == 1, "the expiration message comes back after the delay"
    assert requests_to(stand_ins, "/npg/") == []

    [message] = wait_until_visible("expiration")
    assert message == {"event": events[0].to_json_dict(), "tracingInfo": TRACING}, "the incoming message, unchanged"
    consume("expiration")

    assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"], "the second run does not expire again"
    assert codes().count("EXPIRED") == 1
    assert last_data() == {"statusBeforeRefunded": "EXPIRED", "gatewayAuthData": AUTHORIZATION_FROM_ORDER}
    [request] = requests_to(stand_ins, ORDER_PATH)
    assert request.headers["Correlation-Id"] == CORRELATION_ID
    assert request.headers["X-Api-Key"] == "cards-key"
    assert len(visible_events("refund")) == 1
    assert queue_length("expiration") == 0


def test_an_npg_payment_requested_long_ago_is_refunded_without_waiting(stand_ins):
    npg_order_answers(stand_ins, "pending")
    expire_now([activated(), *payment("CP", completed=False)], ages=[700, 650])

    assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"]
    assert hidden_count("expiration") == 0


@pytest.mark.parametrize(
    ("shape", "then"),
    [
        ("authorized", AUTHORIZATION_FROM_ORDER),
        ("pending", None),
        ("empty", None),
        ("500", None),
        ("not authorized", "no refund"),
        ("authorized without operationId", "manual check"),
        ("404", "manual check"),
        ("refunded", "refunded"),
    ],
)
def test_the_npg_order_decides_the_refund_request(no_npg_delay, shape, then):
    npg_order_answers(no_npg_delay, shape)
    expire_now([activated(), *payment("CP", completed=False)])

    if isinstance(then, dict) or then is None:
        assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"]
        assert last_data()["gatewayAuthData"] == then
        assert len(visible_events("refund")) == 1
        assert dead_letters() == []
    elif then == "no refund":
        assert codes()[-1] == "EXPIRED"
        assert queue_length("refund") == 0
        assert dead_letters() == []
    elif then == "manual check":
        assert codes()[-1] == "EXPIRED"
        assert queue_length("refund") == 0
        [letter] = dead_letters()
        assert (letter["category"], letter["transactionId"]) == ("REFUND_MANUAL_CHECK_REQUIRED", TX)
    else:
        assert codes()[-3:] == ["EXPIRED", "REFUND_REQUESTED", "REFUND_ERROR"]
        requested = stored_state().events[-2].to_json_dict()["data"]
        assert requested == {"statusBeforeRefunded": "EXPIRED", "gatewayAuthData": AUTHORIZATION_FROM_ORDER}
        assert view_status() == "REFUND_ERROR"
        assert queue_length("refund") == 0
        [letter] = dead_letters()
        assert letter["category"] == "REFUND_MANUAL_CHECK_REQUIRED"


def test_an_npg_order_timeout_requests_the_refund_without_authorization_data(no_npg_delay, settings, silent_base_url):
    settings.DISPATCHER = settings.DISPATCHER.replace(NPG_URI=silent_base_url, NPG_READ_TIMEOUT=200)
    expire_now([activated(), *payment("CP", completed=False)])

    assert codes()[-1] == "REFUND_REQUESTED"
    assert last_data()["gatewayAuthData"] is None


# --- CLOSED: waiting for sendPaymentResult ----------------------------------------------------------


def closed_history(outcome="OK"):
    return [activated(), *payment("CP"), closure_requested(), closed(outcome)]


def test_a_closed_transaction_waits_for_the_payment_result_without_expiring(stand_ins):
    expire_now(closed_history())

    assert codes()[-1] == "CLOSED"
    assert view_status() == "CLOSED"
    assert hidden_count("expiration") == 1
    assert dead_letters() == []


def test_a_closed_transaction_comes_back_when_the_wait_ends_and_then_times_out(stand_ins, settings):
    # Closed 58.5 s ago, 60 s to wait, no offset: the message comes back about 2 s later, too late.
    settings.DISPATCHER = settings.DISPATCHER.replace(
        SEND_PAYMENT_RESULT_TIMEOUT_SECONDS=60, SEND_PAYMENT_RESULT_EXPIRATION_OFFSET_SECONDS=0
    )
    events = expire_now(closed_history(), ages=[62, 61, 60, 59, 58.5])
    assert codes()[-1] == "CLOSED"

    [message] = wait_until_visible("expiration")
    assert message == {"event": events[0].to_json_dict(), "tracingInfo": TRACING}
    consume("expiration")

    assert [letter["category"] for letter in dead_letters()] == ["SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT"]
    assert codes()[-1] == "EXPIRED"


def test_a_closed_transaction_past_the_payment_result_timeout_is_dead_lettered_then_expired(stand_ins, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(SEND_PAYMENT_RESULT_TIMEOUT_SECONDS=60)
    expire_now(closed_history(), ages=[120, 119, 118, 117, 58])

    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"]) == (
        "SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT",
        TX,
        "TRANSACTION_ACTIVATED_EVENT",
    )
    assert codes()[-1] == "EXPIRED"
    assert last_data() == {"statusBeforeExpiration": "CLOSED"}
    assert view_status() == "EXPIRED"
    assert queue_length("expiration") == 0
    assert queue_length("refund") == 0


def test_a_closed_transaction_nodo_answered_ko_expires_and_is_refunded(stand_ins):
    expire_now(closed_history("KO"))

    assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"]
    assert last_data()["statusBeforeRefunded"] == "EXPIRED"
    assert last_data()["gatewayAuthData"]["operationResult"] == "EXECUTED"
    assert hidden_count("expiration") == 0


@pytest.mark.parametrize(
    ("receipts", "refunded"),
    [
        ([(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, "KO")], True),
        ([(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, "OK")], False),
        (
            [(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, "KO"), (C.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT, "KO")],
            True,
        ),
        ([(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, "KO"), (C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, "KO")], True),
    ],
)
def test_notification_statuses_expire_and_refund_when_the_payment_result_is_ko(stand_ins, receipts, refunded):
    expire_now([*closed_history(), *[receipt(code, outcome) for code, outcome in receipts]])

    assert "EXPIRED" in codes()
    assert (codes()[-1] == "REFUND_REQUESTED") is refunded
    assert queue_length("refund") == (1 if refunded else 0)


@pytest.mark.parametrize(
    "history",
    [
        lambda: [*closed_history("KO"), refund_requested()],
        lambda: [*closed_history("KO"), refund_requested(), refund_error()],
        lambda: [
            activated(),
            *payment("CP", authorized=False),
            closure_requested(),
            make_event(C.TRANSACTION_CLOSURE_FAILED_EVENT),
        ],
        lambda: [
            *closed_history(),
            receipt(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, "OK"),
            receipt(C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, "OK"),
        ],
        lambda: [activated(), user_canceled(), closed(canceled=True)],
        lambda: [activated(), expired("ACTIVATED")],
    ],
    ids=["refund requested", "refund error", "unauthorized", "notified ok", "canceled", "expired not authorized"],
)
def test_final_and_refund_statuses_are_left_alone(stand_ins, history):
    store_history(history())
    before = codes()

    deliver("expiration", stored_state().events[0].to_json_dict())

    assert codes() == before
    assert queue_length("refund") == 0
    assert dead_letters() == []


# --- batch expirations and concurrency ------------------------------------------------------------


def test_an_expired_event_from_the_batch_is_stored_once_and_the_refund_decided(stand_ins):
    store_history([activated(), *payment("RBPB", completed=False)])
    [batch_event] = dated([expired("AUTHORIZATION_REQUESTED")], ages=[0])

    deliver("expiration", batch_event.to_json_dict())

    assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"]
    assert codes().count("EXPIRED") == 1
    assert stored_state().events[-2].id == batch_event.id


def test_an_event_appended_while_the_order_is_looked_up_is_decided_upon_and_npg_asked_once(no_npg_delay):
    """The order is looked up before the decision, which reads the state after that event."""
    store_history([activated(), *payment("CP", completed=False)])
    answers = []

    def order_while_appending(request):
        if not answers:
            # Another consumer appends meanwhile (an outcome that arrives too late to count).
            late = dated([make_event(C.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT)], ages=[0])[0]
            try:
                store_incoming_event(late)
            finally:
                connections.close_all()  # this server thread's own connection
        answers.append(request)
        return Response('{"operations": []}', status=200, content_type="application/json")

    no_npg_delay.expect_request(ORDER_PATH).respond_with_handler(order_while_appending)

    deliver("expiration", stored_state().events[0].to_json_dict())

    assert codes()[-3:] == ["AUTHORIZATION_OUTCOME_WAITING", "EXPIRED", "REFUND_REQUESTED"]
    assert len(answers) == 1
    assert len(visible_events("refund")) == 1
    assert dead_letters() == []


def test_a_batch_expiration_older_than_the_last_event_is_not_stored_but_still_expires(stand_ins):
    [batch_event] = dated([expired("ACTIVATED")], ages=[30])
    store_history([activated(), user_canceled()], ages=[60, 10])

    deliver("expiration", batch_event.to_json_dict())

    assert codes() == ["ACTIVATED", "USER_CANCELED", "EXPIRED"]
    assert stored_state().events[-1].id != batch_event.id
    assert view_status() == "CANCELLATION_EXPIRED"
    assert dead_letters() == []


# --- a consumer that dies between its commit and the relay (spec Part A §11) -------------------------


def test_an_expiration_redelivered_after_it_postponed_the_npg_refund_postpones_it_once(stand_ins, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(NPG_REFUND_DELAY_FROM_AUTH_REQUEST_MINUTES=10)
    events = store_history([activated(), *payment("CP", completed=False)])
    rows = decide_and_die("expiration", events[0].to_json_dict())
    assert [row.queue_key for row in rows] == ["expiration"]

    redeliver("expiration")

    assert codes()[-1] == "EXPIRED"
    assert codes().count("EXPIRED") == 1
    assert hidden_count("expiration") == 1, "the postponed message, once"
    assert queue_length("expiration") == 1
    assert requests_to(stand_ins, "/npg/") == []


def test_an_expiration_redelivered_after_its_refund_request_committed_sends_the_refund_message_once(no_npg_delay):
    npg_order_answers(no_npg_delay, "authorized")
    events = store_history([activated(), *payment("CP", completed=False)])
    rows = decide_and_die("expiration", events[0].to_json_dict())
    assert [row.queue_key for row in rows] == ["refund"]

    redeliver("expiration")

    assert len(requests_to(no_npg_delay, ORDER_PATH)) == 1
    assert codes()[-2:] == ["EXPIRED", "REFUND_REQUESTED"]
    assert codes().count("REFUND_REQUESTED") == 1
    assert visible_events("refund") == [{"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}]
    assert view_status() == "REFUND_REQUESTED"
    assert dead_letters() == []
    assert queue_length("expiration") == 0


def test_a_refund_requested_by_the_closure_is_not_sent_again_by_the_expiration(stand_ins):
    events = store_history([*closed_history("KO"), refund_requested("CLOSED")])

    deliver("expiration", events[0].to_json_dict())

    assert queue_length("refund") == 0
    assert codes()[-1] == "REFUND_REQUESTED"


def test_an_expiration_redelivered_after_an_already_refunded_order_was_stored_dead_letters_once(no_npg_delay):
    npg_order_answers(no_npg_delay, "refunded")
    events = store_history([activated(), *payment("CP", completed=False)])
    rows = decide_and_die("expiration", events[0].to_json_dict())
    assert [(row.queue_key, row.is_dead_letter) for row in rows] == [("dead-letter", True)]
    decided = codes()

    redeliver("expiration")

    assert len(requests_to(no_npg_delay, ORDER_PATH)) == 1
    assert codes() == decided
    assert decided[-3:] == ["EXPIRED", "REFUND_REQUESTED", "REFUND_ERROR"]
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"]) == ("REFUND_MANUAL_CHECK_REQUIRED", TX)
    assert queue_length("refund") == 0
    assert queue_length("expiration") == 0
