"""Refund retry (spec §5.4, §5.9.2) through real messages on the refund-retry queue."""

import pytest

from tests.transactions.factories import NPG_AUTHORIZATION, TX
from tests.transactions.handlers.builders import (
    TRACING,
    activated,
    codes,
    expired,
    payment,
    refund_error,
    refund_requested,
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
    wait_until_visible,
)
from tests.transactions.handlers.interruptions import decide_and_die, redeliver
from tests.transactions.handlers.refund_support import (
    FORWARDER_PATH,
    REFUND_OPERATION_ID,
    forwarder_answers,
    npg_refund_answers,
    npg_refund_path,
    npg_refund_requested,
    redirect_refund_requested,
)
from transactions.models import Transaction

pytestmark = HANDLER_DB


def retry_now(events):
    deliver("refund-retry", events[-1].to_json_dict())


def retried_data():
    return [e.to_json_dict()["data"] for e in stored_state().events if e.event_code.value.endswith("RETRIED_EVENT")]


def data_of(index=-1):
    return stored_state().events[index].to_json_dict()["data"]


def test_a_retried_refund_that_succeeds_is_refunded(stand_ins):
    npg_refund_answers(stand_ins)

    retry_now(npg_refund_requested(retries=1))

    assert codes()[-1] == "REFUNDED"
    assert data_of() == {
        "statusBeforeRefunded": "REFUND_ERROR",
        "gatewayOperationData": {"type": "NPG", "operationId": REFUND_OPERATION_ID},
    }
    assert Transaction.objects.get(pk=TX).status == "REFUNDED"
    assert queue_length("refund-retry") == 0


def test_a_failed_retry_schedules_the_next_without_a_new_refund_error(stand_ins):
    npg_refund_answers(stand_ins, status=500)

    retry_now(npg_refund_requested(retries=2))

    assert codes()[-4:] == ["REFUND_ERROR", "REFUND_RETRIED", "REFUND_RETRIED", "REFUND_RETRIED"]
    assert data_of() == {"retryCount": 3, "transactionGatewayAuthorizationData": NPG_AUTHORIZATION}
    assert hidden_count("refund-retry") == 1
    assert dead_letters() == []


def test_exhausted_refund_retries_are_dead_lettered(stand_ins, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(REFUND_RETRY_EVENT_MAX_ATTEMPTS=2)
    npg_refund_answers(stand_ins, status=500)
    events = npg_refund_requested(retries=2)
    before = codes()

    retry_now(events)

    assert codes() == before
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"]) == (
        "RETRY_EVENT_NO_ATTEMPTS_LEFT",
        TX,
        "TRANSACTION_REFUND_RETRIED_EVENT",
    )
    assert queue_length("refund-retry") == 0


def test_a_retry_uses_the_authorization_the_retried_event_carries(stand_ins):
    carried = {**NPG_AUTHORIZATION, "operationId": "carried-operation"}
    npg_refund_answers(stand_ins, operation_id="carried-operation")
    events = store_history(
        [
            activated(),
            *payment("CP", completed=False),
            expired("AUTHORIZATION_REQUESTED"),
            refund_requested("EXPIRED", gateway_auth_data=None),
            refund_error(),
            refund_retried(1, carried),
        ]
    )

    retry_now(events)

    assert codes()[-1] == "REFUNDED"
    assert len(requests_to(stand_ins, npg_refund_path("carried-operation"))) == 1


def test_a_redirect_retry_answered_ko_writes_exactly_one_refund_error(stand_ins):
    forwarder_answers(stand_ins, outcome="KO")

    retry_now(redirect_refund_requested(retries=1))

    assert codes()[-3:] == ["REFUND_ERROR", "REFUND_RETRIED", "REFUND_ERROR"]
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert queue_length("refund-retry") == 0


def test_a_refund_4xx_on_retry_is_dead_lettered_without_a_new_error_event(stand_ins):
    npg_refund_answers(stand_ins, status=422)
    events = npg_refund_requested(retries=1)
    before = codes()

    retry_now(events)

    assert codes() == before
    assert dead_letters()[0]["category"] == "PROCESSING_ERROR"


@pytest.mark.parametrize("history", ["refund requested", "refunded"])
def test_a_retry_for_a_transaction_not_in_refund_error_is_dead_lettered(stand_ins, history):
    npg_refund_answers(stand_ins)
    events = npg_refund_requested()
    if history == "refunded":
        deliver("refund", events[-1].to_json_dict())
    [incoming] = store_history([refund_retried(1)], ages=[0])

    deliver("refund-retry", incoming.to_json_dict())

    [letter] = dead_letters()
    assert (letter["category"], letter["eventCode"]) == ("PROCESSING_ERROR", "TRANSACTION_REFUND_RETRIED_EVENT")
    assert len(requests_to(stand_ins, npg_refund_path())) == (1 if history == "refunded" else 0)


# --- a consumer that dies between its commit and the relay (spec Part A §11) -------------------------


def test_a_retry_redelivered_after_it_refunded_is_neither_refunded_again_nor_dead_lettered(stand_ins):
    npg_refund_answers(stand_ins)
    events = npg_refund_requested(retries=1)
    assert decide_and_die("refund-retry", events[-1].to_json_dict()) == []

    redeliver("refund-retry")

    assert codes().count("REFUNDED") == 1
    assert len(requests_to(stand_ins, npg_refund_path())) == 1
    assert dead_letters() == []
    assert queue_length("refund-retry") == 0


def test_a_retry_redelivered_after_the_next_retry_committed_sends_it_once(stand_ins):
    npg_refund_answers(stand_ins, status=503)
    events = npg_refund_requested(retries=1)
    rows = decide_and_die("refund-retry", events[-1].to_json_dict())
    assert [row.queue_key for row in rows] == ["refund-retry"]

    redeliver("refund-retry")

    assert len(requests_to(stand_ins, npg_refund_path())) == 1
    assert [data["retryCount"] for data in retried_data()] == [1, 2]
    [message] = wait_until_visible("refund-retry")
    assert message == {"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}
    assert dead_letters() == []


def test_a_retry_redelivered_after_a_redirect_ko_committed_dead_letters_once_without_calling_the_psp(stand_ins):
    forwarder_answers(stand_ins, outcome="KO")
    events = redirect_refund_requested(retries=1)
    rows = decide_and_die("refund-retry", events[-1].to_json_dict())
    assert [row.is_dead_letter for row in rows] == [True]
    decided = codes()

    redeliver("refund-retry")

    assert len(requests_to(stand_ins, FORWARDER_PATH)) == 1
    assert codes() == decided
    assert decided.count("REFUND_ERROR") == 2, "the first attempt's and the KO's (spec Part A §7)"
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert queue_length("refund-retry") == 0
