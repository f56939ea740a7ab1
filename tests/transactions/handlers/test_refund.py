"""Refund (spec §5.3, §5.9.2) through real messages on the refund queue."""

import json

import pytest
from django.db import connections
from werkzeug import Response

from tests.transactions.factories import NPG_AUTHORIZATION, TX, C, make_event
from tests.transactions.handlers.builders import (
    CORRELATION_ID,
    OPERATION_ID,
    ORDER_ID,
    PSP_ID,
    REDIRECT_TYPE,
    TRACING,
    codes,
    dated,
    refund_retried,
    store_history,
    stored_state,
)
from tests.transactions.handlers.conftest import (
    HANDLER_DB,
    dead_letters,
    deliver,
    hidden_count,
    queue_length,
    requests_to,
    run_consume_queue,
    send_event,
    wait_until_visible,
)
from tests.transactions.handlers.interruptions import decide_and_die, redeliver
from tests.transactions.handlers.npg_orders import ORDER_OPERATION_ID, npg_order_answers
from tests.transactions.handlers.refund_support import (
    DASHED_TX,
    FORWARDER_PATH,
    REFUND_OPERATION_ID,
    forwarder_answers,
    npg_refund_answers,
    npg_refund_path,
    npg_refund_requested,
    redirect_refund_requested,
)
from transactions.models import Transaction
from transactions.store import store_incoming_event

pytestmark = HANDLER_DB


def refund_now(events):
    deliver("refund", events[-1].to_json_dict())


def view_status():
    return Transaction.objects.get(pk=TX).status


def data_of(index=-1):
    return stored_state().events[index].to_json_dict()["data"]


def only_dead_letter(category):
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"]) == (category, TX)
    return letter


# --- NPG ------------------------------------------------------------------------------------------


def test_an_npg_refund_refunds_the_authorization_amount_plus_fee(stand_ins):
    npg_refund_answers(stand_ins)

    refund_now(npg_refund_requested())

    assert codes()[-2:] == ["REFUND_REQUESTED", "REFUNDED"]
    assert data_of() == {
        "statusBeforeRefunded": "REFUND_REQUESTED",
        "gatewayOperationData": {"type": "NPG", "operationId": REFUND_OPERATION_ID},
    }
    assert view_status() == "REFUNDED"
    [request] = requests_to(stand_ins, npg_refund_path())
    assert request.headers["Idempotency-Key"] == DASHED_TX
    assert request.headers["Correlation-Id"] == CORRELATION_ID
    assert request.headers["X-Api-Key"] == "cards-key"
    assert json.loads(request.data) == {
        "amount": "12150",
        "currency": "EUR",
        "description": f"Refund request for transactionId {DASHED_TX} and operationId {OPERATION_ID}",
    }
    assert queue_length("refund") == 0
    assert queue_length("refund-retry") == 0
    assert dead_letters() == []


def test_an_npg_refund_refused_with_4xx_records_the_error_and_is_dead_lettered(stand_ins):
    npg_refund_answers(stand_ins, status=400)

    refund_now(npg_refund_requested())

    assert codes()[-1] == "REFUND_ERROR"
    assert data_of() == {"statusBeforeRefunded": "REFUND_REQUESTED"}
    assert view_status() == "REFUND_ERROR"
    letter = only_dead_letter("PROCESSING_ERROR")
    assert letter["eventCode"] == "TRANSACTION_REFUND_REQUESTED_EVENT"
    assert queue_length("refund-retry") == 0


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_an_npg_refund_that_may_work_later_is_retried_with_the_authorization(stand_ins, settings, failure):
    if failure == "timeout":
        settings.DISPATCHER = settings.DISPATCHER.replace(NPG_READ_TIMEOUT=200)
        stand_ins.expect_request(npg_refund_path()).respond_with_handler(_slow_answer)
    else:
        npg_refund_answers(stand_ins, status=500)

    refund_now(npg_refund_requested())

    assert codes()[-2:] == ["REFUND_ERROR", "REFUND_RETRIED"]
    assert data_of() == {"retryCount": 1, "transactionGatewayAuthorizationData": NPG_AUTHORIZATION}
    assert view_status() == "REFUND_ERROR"
    assert hidden_count("refund-retry") == 1
    assert dead_letters() == []


def _slow_answer(request):
    import time

    from werkzeug import Response

    time.sleep(0.6)
    return Response("{}", status=200, content_type="application/json")


@pytest.mark.parametrize(
    ("shape", "then"),
    [
        ("authorized", "refunded"),
        ("pending", "retry"),
        ("empty", "retry"),
        ("500", "retry"),
        ("not authorized", "nothing"),
        ("refunded", "refused"),
        ("authorized without operationId", "refused"),
        ("404", "refused"),
    ],
)
def test_without_authorization_data_the_npg_order_decides_the_refund(stand_ins, shape, then):
    npg_order_answers(stand_ins, shape)
    npg_refund_answers(stand_ins, operation_id=ORDER_OPERATION_ID)

    refund_now(npg_refund_requested(with_authorization=False))

    refunds = requests_to(stand_ins, npg_refund_path(ORDER_OPERATION_ID))
    if then == "refunded":
        assert codes()[-1] == "REFUNDED"
        assert len(refunds) == 1
    elif then == "retry":
        assert codes()[-2:] == ["REFUND_ERROR", "REFUND_RETRIED"]
        assert data_of()["transactionGatewayAuthorizationData"] is None
        assert hidden_count("refund-retry") == 1
        assert refunds == []
    elif then == "nothing":
        assert codes()[-1] == "REFUND_REQUESTED"
        assert view_status() == "REFUND_REQUESTED"
        assert dead_letters() == []
        assert refunds == []
    else:
        assert codes()[-1] == "REFUND_ERROR"
        only_dead_letter("PROCESSING_ERROR")
        assert refunds == []


def test_a_missing_npg_key_is_retried(stand_ins, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(NPG_CARDS_PSP_KEYS={})

    refund_now(npg_refund_requested())

    assert codes()[-2:] == ["REFUND_ERROR", "REFUND_RETRIED"]
    assert requests_to(stand_ins, "/npg/") == []


# --- redirect -------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["OK", "CANCELED"])
def test_a_redirect_refund_answered_ok_or_canceled_is_refunded(stand_ins, outcome):
    forwarder_answers(stand_ins, outcome=outcome)

    refund_now(redirect_refund_requested(client="WISP_REDIRECT"))

    assert codes()[-1] == "REFUNDED"
    assert data_of() == {"statusBeforeRefunded": "REFUND_REQUESTED", "gatewayOperationData": {"type": "EMPTY"}}
    assert view_status() == "REFUNDED"
    [request] = requests_to(stand_ins, FORWARDER_PATH)
    assert request.headers["X-Host-Url"] == "psp.example.org"
    assert request.headers["X-Host-Port"] == "8443"
    assert request.headers["X-Host-Path"] == "/redirect/api/refunds"
    assert request.headers["X-Request-Id"] == TX
    assert request.headers["Ocp-Apim-Subscription-Key"] == "forwarder-key"
    assert json.loads(request.data) == {"action": "refund", "idPSPTransaction": ORDER_ID, "idTransaction": TX}


def test_a_redirect_refund_answered_ko_writes_one_refund_error_and_is_dead_lettered(stand_ins):
    forwarder_answers(stand_ins, outcome="KO")

    refund_now(redirect_refund_requested())

    assert codes()[-2:] == ["REFUND_REQUESTED", "REFUND_ERROR"]
    assert codes().count("REFUND_ERROR") == 1
    assert view_status() == "REFUND_ERROR"
    only_dead_letter("PROCESSING_ERROR")
    assert queue_length("refund-retry") == 0


def test_a_redirect_refund_refused_with_4xx_is_dead_lettered(stand_ins):
    forwarder_answers(stand_ins, status=409)

    refund_now(redirect_refund_requested())

    assert codes()[-1] == "REFUND_ERROR"
    only_dead_letter("PROCESSING_ERROR")


@pytest.mark.parametrize("failure", ["502", "no mapping"])
def test_a_redirect_refund_that_may_work_later_is_retried(stand_ins, failure):
    forwarder_answers(stand_ins, status=502)

    refund_now(redirect_refund_requested("RBPS" if failure == "no mapping" else REDIRECT_TYPE))

    assert codes()[-2:] == ["REFUND_ERROR", "REFUND_RETRIED"]
    assert data_of() == {"retryCount": 1, "transactionGatewayAuthorizationData": None}
    assert hidden_count("refund-retry") == 1
    assert len(requests_to(stand_ins, FORWARDER_PATH)) == (0 if failure == "no mapping" else 1)


# --- guards and quirks ----------------------------------------------------------------------------


def test_a_transaction_not_in_refund_requested_needs_no_refund(stand_ins):
    npg_refund_answers(stand_ins)
    events = npg_refund_requested()
    store_history([make_event(C.TRANSACTION_REFUNDED_EVENT)], ages=[0])
    before = codes()

    deliver("refund", events[-1].to_json_dict())

    assert codes() == before
    assert requests_to(stand_ins, "/npg/") == []
    assert dead_letters() == []
    assert queue_length("refund") == 0


def test_the_retry_count_of_a_retried_event_on_the_refund_queue_is_ignored(stand_ins):
    npg_refund_answers(stand_ins, status=503)
    npg_refund_requested()
    [incoming] = dated([refund_retried(3)], ages=[0])

    deliver("refund", incoming.to_json_dict(), TRACING)

    assert codes()[-3:] == ["REFUND_RETRIED", "REFUND_ERROR", "REFUND_RETRIED"]
    assert data_of()["retryCount"] == 1
    assert hidden_count("refund-retry") == 1


def test_a_redelivered_refund_message_refunds_once(stand_ins):
    npg_refund_answers(stand_ins)
    events = npg_refund_requested()

    refund_now(events)
    refund_now(events)

    assert codes().count("REFUNDED") == 1
    assert len(requests_to(stand_ins, npg_refund_path())) == 1


def test_the_consume_queue_command_refunds_through_npg(stand_ins, subprocess_env, manage_py):
    npg_refund_answers(stand_ins)
    events = npg_refund_requested()
    send_event("refund", events[-1].to_json_dict())

    base = stand_ins.url_for("").rstrip("/")
    run_consume_queue(
        manage_py,
        subprocess_env,
        "refund",
        NPG_URI=f"{base}/npg",
        NPG_CARDS_PSP_KEYS=json.dumps({PSP_ID: "cards-key"}),
    )

    assert codes()[-1] == "REFUNDED"
    assert view_status() == "REFUNDED"
    assert requests_to(stand_ins, npg_refund_path())[0].headers["X-Api-Key"] == "cards-key"
    assert queue_length("refund") == 0


# --- a consumer that dies between its commit and the relay (spec Part A §11) -------------------------


def test_a_refund_redelivered_after_its_retry_committed_sends_the_retry_once(stand_ins):
    npg_refund_answers(stand_ins, status=503)
    events = npg_refund_requested()
    rows = decide_and_die("refund", events[-1].to_json_dict())
    assert [row.queue_key for row in rows] == ["refund-retry"]

    redeliver("refund")

    assert len(requests_to(stand_ins, npg_refund_path())) == 1
    assert codes()[-3:] == ["REFUND_REQUESTED", "REFUND_ERROR", "REFUND_RETRIED"]
    assert (codes().count("REFUND_ERROR"), codes().count("REFUND_RETRIED")) == (1, 1)
    [message] = wait_until_visible("refund-retry")
    assert message == {"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}
    assert queue_length("refund-retry") == 1
    assert dead_letters() == []


def test_a_refused_refund_redelivered_after_its_dead_letter_committed_schedules_no_extra_retry(stand_ins):
    """The known gap of the per-handler recovery: a hard refusal, a crash, then one retry too many."""
    forwarder_answers(stand_ins, outcome="KO")
    events = redirect_refund_requested()
    rows = decide_and_die("refund", events[-1].to_json_dict())
    assert [(row.queue_key, row.is_dead_letter) for row in rows] == [("dead-letter", True)]

    redeliver("refund")

    assert len(requests_to(stand_ins, FORWARDER_PATH)) == 1
    assert codes()[-1] == "REFUND_ERROR"
    assert "REFUND_RETRIED" not in codes()
    assert queue_length("refund-retry") == 0
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert queue_length("refund") == 0


@pytest.mark.parametrize("gateway", ["NPG", "REDIRECT"])
def test_an_event_appended_during_the_refund_call_is_recorded_around_without_a_second_refund_call(stand_ins, gateway):
    """The REFUNDED append conflicts with an event another consumer stored while the gateway answered:
    the handler re-decides on the fresh state and records the answer it has, calling the gateway once."""
    events = npg_refund_requested() if gateway == "NPG" else redirect_refund_requested()
    calls = []
    answer = (
        {"operationId": REFUND_OPERATION_ID, "operationTime": "2023-09-25 15:00:00.000"}
        if gateway == "NPG"
        else {"idTransaction": TX, "outcome": "OK"}
    )

    def refund_while_appending(request):
        if not calls:
            late = dated([make_event(C.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT)], ages=[0])[0]
            try:
                store_incoming_event(late)
            finally:
                connections.close_all()  # this server thread's own connection
        calls.append(request)
        return Response(json.dumps(answer), status=200, content_type="application/json")

    path = npg_refund_path() if gateway == "NPG" else FORWARDER_PATH
    stand_ins.expect_request(path, method="POST").respond_with_handler(refund_while_appending)

    refund_now(events)

    assert len(calls) == 1
    assert codes()[-3:] == ["REFUND_REQUESTED", "AUTHORIZATION_OUTCOME_WAITING", "REFUNDED"]
    assert view_status() == "REFUNDED"
    assert dead_letters() == []


def test_a_conflict_that_outlasts_every_reload_leaves_the_message_for_redelivery(stand_ins, monkeypatch):
    """Spec Part A §2: a lost append race means reload and decide again, never a dead letter."""
    from receivers.handlers import HANDLERS, HandlerRegistration
    from transactions.store import ConcurrentAppendError

    def always_overtaken(message, outbox):
        raise ConcurrentAppendError("another consumer appended first, every time")

    real = HANDLERS["refund"]
    monkeypatch.setitem(HANDLERS, "refund", HandlerRegistration("refund", real.accepts, always_overtaken, real.parse))
    refund_now(npg_refund_requested())

    assert dead_letters() == []
    assert queue_length("refund") == 1  # back on its queue once its lease ends
