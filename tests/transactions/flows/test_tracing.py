"""The "Transaction status updated" span: emitted by record_events on every status change (spec §15)."""

import pytest

from tests.transactions.flows.conftest import status_spans
from tests.transactions.flows.stories import story
from transactions import events as ev
from transactions.reduction import reduce_events
from transactions.store import ConcurrentAppendError, load_state, record_events, store_incoming_event
from transactions.tracing import closure_error_text, status_update

S = ev.TransactionStatus
P = "updateTransactionStatus."


def stored(events):
    for event in events:
        store_incoming_event(event)
    return load_state(events[0].transaction_id)


def receipt_added(state, outcome="OK"):
    data = ev.TransactionUserReceiptData(response_outcome=ev.UserReceiptOutcome(outcome), language="it-IT")
    return ev.TransactionUserReceiptAddedEvent.new(state.transaction_id, data)


@pytest.mark.django_db
def test_a_status_change_emits_one_span_with_the_update_attributes(spans):
    state = stored(story("notification requested"))

    record_events(state, [receipt_added(state)], view_status=S.NOTIFIED_OK)

    assert status_spans(spans) == [
        {
            P + "type": "USER_RECEIPT_NOTIFICATION",
            P + "outcome": "OK",
            P + "trigger": "NOTIFICATIONS_SERVICE",
            P + "pspId": "BCITITMM",
            P + "gateway.outcome": "OK",
            P + "gateway.errorCode": "N/A",
            P + "paymentMethodTypeCode": "CP",
            P + "clientId": "CHECKOUT",
            P + "walletPayment": True,
        }
    ]


@pytest.mark.django_db
def test_the_span_is_a_child_of_the_span_of_the_message(spans):
    from opentelemetry import trace

    state = stored(story("notification requested"))
    with trace.get_tracer("test").start_as_current_span("TransactionNotificationsQueueConsumer") as parent:
        record_events(state, [receipt_added(state)], view_status=S.NOTIFIED_OK)

    [span] = [s for s in spans.get_finished_spans() if s.name == "Transaction status updated"]
    assert span.parent.span_id == parent.get_span_context().span_id


@pytest.mark.django_db
def test_no_span_when_the_status_stays_the_same(spans):
    state = stored(story("notification error"))
    retried = ev.TransactionUserReceiptAddRetriedEvent.new(
        state.transaction_id, ev.TransactionRetriedData(retry_count=1)
    )

    record_events(state, [retried], view_status=S.NOTIFICATION_ERROR)

    assert status_spans(spans) == []


@pytest.mark.django_db
def test_no_span_when_the_append_conflicts(spans):
    state = stored(story("notification requested"))
    record_events(state, [receipt_added(state)], view_status=S.NOTIFIED_OK)
    spans.clear()

    with pytest.raises(ConcurrentAppendError):
        record_events(state, [receipt_added(state)], view_status=S.NOTIFIED_OK)

    assert status_spans(spans) == []


def test_an_error_event_is_a_processing_error_update():
    state = reduce_events(story("notification requested", type_code="RBPS", gateway="REDIRECT"))
    error = ev.TransactionUserReceiptAddErrorEvent.new(state.transaction_id, state.user_receipt_data)

    update = status_update(state, [error], S.NOTIFICATION_ERROR)

    assert update.attributes() == {
        P + "type": "USER_RECEIPT_NOTIFICATION",
        P + "outcome": "PROCESSING_ERROR",
        P + "trigger": "NOTIFICATIONS_SERVICE",
        P + "pspId": "BCITITMM",
        P + "gateway.outcome": "OK",
        P + "gateway.errorCode": "N/A",
        P + "paymentMethodTypeCode": "RBPS",
        P + "clientId": "CHECKOUT",
        P + "walletPayment": False,
    }


def test_before_an_authorization_request_the_payment_attributes_are_not_available():
    state = reduce_events(story("activated", client_id="IO"))
    expired = ev.TransactionExpiredEvent.new(
        state.transaction_id, ev.TransactionExpiredData(status_before_expiration=S.ACTIVATED)
    )

    attributes = status_update(state, [expired]).attributes()

    assert attributes == {
        P + "type": "EXPIRATION",
        P + "outcome": "OK",
        P + "trigger": "EVENT_DISPATCHER",
        P + "pspId": "N/A",
        P + "gateway.outcome": "N/A",
        P + "gateway.errorCode": "N/A",
        P + "paymentMethodTypeCode": "N/A",
        P + "clientId": "IO",
    }


def test_a_refund_is_triggered_by_the_payment_gateway_and_the_last_event_describes_it():
    state = reduce_events(story("closed", gateway="REDIRECT", type_code="RBPP"))
    requested = ev.TransactionRefundRequestedEvent.new(
        state.transaction_id,
        ev.TransactionRefundRequestedData(status_before_refunded=S.CLOSED, gateway_auth_data=None),
    )
    error = ev.TransactionRefundErrorEvent.new(
        state.transaction_id, ev.TransactionRefundErrorData(status_before_refunded=S.CLOSED)
    )

    attributes = status_update(state, [requested, error]).attributes()

    assert (attributes[P + "type"], attributes[P + "trigger"], attributes[P + "outcome"]) == (
        "REFUND",
        "REDIRECT",
        "PROCESSING_ERROR",
    )


def test_closure_outcomes_carry_nodo_answer_or_error_text():
    state = reduce_events(story("closure requested"))
    closed = ev.TransactionClosedEvent.new(
        state.transaction_id,
        ev.TransactionClosureData(response_outcome=ev.ClosureOutcome.KO, was_canceled_by_user=False),
    )
    failure = ev.ClosureErrorData.from_response(400, "Invalid token")
    error = ev.TransactionClosureErrorEvent.new(state.transaction_id, failure)

    closed_attributes = status_update(state, [closed]).attributes()
    error_attributes = status_update(state, [error]).attributes()

    assert (closed_attributes[P + "type"], closed_attributes[P + "trigger"]) == ("CLOSE_PAYMENT_OUTCOME", "NODO")
    assert closed_attributes[P + "gateway.outcome"] == "KO"
    assert error_attributes[P + "outcome"] == "PROCESSING_ERROR"
    assert error_attributes[P + "gateway.errorCode"] == "HTTP code:[400] - descr:[Invalid token]"
    assert closure_error_text(ev.ClosureErrorData.from_response(None, None)) == "HTTP code:[N/A] - descr:[N/A]"
