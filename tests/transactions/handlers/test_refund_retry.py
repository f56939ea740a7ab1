"""Refund retry (spec §5.4, §5.9.2) through real messages on the refund-retry queue."""

import pytest

from tests.transactions.factories import NPG_AUTHORIZATION, TX
from tests.transactions.handlers.builders import (
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
)
from tests.transactions.handlers.refund_support import (
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
