"""The refund request other handlers call (spec §5.9.1), and the shared handling steps, called directly."""

import json

import pytest

from receivers.handlers import DeadLetterCategory, HandlerError, RetryLater
from receivers.outbox import MessageSource, Outbox
from tests.queue_support import committed_messages, committed_rows, requests_to
from tests.transactions.factories import TX
from tests.transactions.handlers.builders import (
    TRACING,
    activated,
    closed,
    closure_requested,
    codes,
    dated,
    payment,
    refund_requested,
    store_history,
    stored_state,
)
from tests.transactions.handlers.conftest import HANDLER_DB
from tests.transactions.handlers.npg_orders import npg_order_answers
from transactions import events as ev
from transactions.handling import decide_with_reloads
from transactions.models import Transaction
from transactions.refunds import look_up_order, request_refund
from transactions.store import ConcurrentAppendError, store_incoming_event

pytestmark = HANDLER_DB

S = ev.TransactionStatus


def test_a_refund_request_appends_the_event_and_puts_it_on_the_refund_queue(stand_ins):
    store_history([activated(), *payment("CP"), closure_requested(), closed("KO")])
    outbox = Outbox()

    with outbox.decision():
        request_refund(stored_state(), S.NOTIFIED_KO, outbox, TRACING)

    assert codes()[-1] == "REFUND_REQUESTED"
    requested = stored_state().events[-1]
    assert requested.data.status_before_refunded is S.NOTIFIED_KO
    assert Transaction.objects.get(pk=TX).status == "REFUND_REQUESTED"
    [message] = committed_messages(outbox)
    assert (message.queue_key, message.visibility_seconds) == ("refund", 0)
    assert json.loads(message.text) == {"event": requested.to_json_dict(), "tracingInfo": TRACING}


def test_a_redirect_refund_request_carries_no_authorization_data(stand_ins):
    store_history([activated(), *payment("RBPB"), closure_requested(), closed("KO")])

    outbox = Outbox()
    with outbox.decision():
        request_refund(stored_state(), S.CLOSED, outbox, TRACING)

    assert stored_state().events[-1].to_json_dict()["data"] == {
        "statusBeforeRefunded": "CLOSED",
        "gatewayAuthData": None,
    }


def test_a_transaction_whose_refund_was_already_requested_is_left_alone(stand_ins):
    store_history([activated(), *payment("CP"), closure_requested(), closed("KO"), refund_requested()])
    outbox = Outbox()

    with outbox.decision():
        request_refund(stored_state(), S.CLOSED, outbox, TRACING)

    assert codes()[-1] == "REFUND_REQUESTED"
    assert codes().count("REFUND_REQUESTED") == 1
    assert committed_rows(outbox) == []


def test_a_transaction_without_authorization_request_cannot_be_refunded(stand_ins):
    store_history([activated()])

    outbox = Outbox()
    with pytest.raises(HandlerError) as raised, outbox.decision():
        request_refund(stored_state(), S.ACTIVATED, outbox, TRACING)

    assert raised.value.category is DeadLetterCategory.PROCESSING_ERROR
    assert codes() == ["ACTIVATED"]


def test_a_stale_state_conflicts_and_sends_nothing(stand_ins):
    store_history([activated(), *payment("CP"), closure_requested(), closed("KO")])
    stale = stored_state()
    store_incoming_event(dated([refund_requested()], ages=[0])[0])
    outbox = Outbox()

    with pytest.raises(ConcurrentAppendError), outbox.decision():
        request_refund(stale, S.CLOSED, outbox, TRACING)

    assert committed_rows(outbox) == []
    assert codes().count("REFUND_REQUESTED") == 1


def test_an_npg_refund_request_without_outcome_asks_the_order_and_keeps_an_already_refunded_trace(stand_ins):
    npg_order_answers(stand_ins, "refunded")
    store_history([activated(), *payment("CP", completed=False)])
    outbox = Outbox(MessageSource("expiration", text="the expiration message"))

    lookup = look_up_order(stored_state())
    with pytest.raises(HandlerError) as raised, outbox.decision():
        request_refund(stored_state(), S.AUTHORIZATION_REQUESTED, outbox, TRACING, lookup)

    assert raised.value.category is DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED
    assert codes()[-2:] == ["REFUND_REQUESTED", "REFUND_ERROR"]
    assert committed_messages(outbox) == []
    [dead_letter] = committed_rows(outbox)
    assert json.loads(dead_letter.text)["category"] == "REFUND_MANUAL_CHECK_REQUIRED"


def test_an_npg_refund_request_without_outcome_and_without_its_order_waits_for_the_lookup(stand_ins):
    store_history([activated(), *payment("CP", completed=False)])
    outbox = Outbox()

    with pytest.raises(RetryLater), outbox.decision():
        request_refund(stored_state(), S.AUTHORIZATION_REQUESTED, outbox, TRACING)

    assert requests_to(stand_ins, "/npg/") == [], "a decision calls no external service"
    assert codes()[-1] == "AUTHORIZATION_REQUESTED"


def test_decisions_are_retried_on_a_fresh_state_and_their_interrupted_rows_discarded(stand_ins):
    store_history([activated(), *payment("CP"), closure_requested(), closed("KO")])
    read_before_the_other_append = stored_state()
    store_incoming_event(dated([refund_requested()], ages=[0])[0])  # another consumer appended meanwhile
    outbox = Outbox()
    attempts = []

    def decide(state):
        attempts.append(state.last_sequence)
        outbox.send("refund", {"attempt": len(attempts)}, TRACING)
        if len(attempts) == 1:
            request_refund(read_before_the_other_append, S.CLOSED, outbox, TRACING)  # conflicts
        return state.status

    assert decide_with_reloads(TX, outbox, decide) is S.REFUND_REQUESTED
    assert attempts == [6, 6]
    assert [json.loads(message.text)["event"] for message in committed_messages(outbox)] == [{"attempt": 2}]
    assert codes().count("REFUND_REQUESTED") == 1


def test_decisions_give_up_after_a_bounded_number_of_conflicts(stand_ins):
    store_history([activated()])
    calls = []

    def always_conflicting(state):
        calls.append(state)
        raise ConcurrentAppendError("someone else was faster")

    with pytest.raises(ConcurrentAppendError):
        decide_with_reloads(TX, Outbox(), always_conflicting, attempts=3)
    assert len(calls) == 3
