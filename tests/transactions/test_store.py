"""The event store: ordered loads, optimistic appends, once-only incoming events, and the view."""

import threading

import pytest
from django.db import connection, transaction

from tests.transactions.factories import (
    TX,
    C,
    activated,
    authorization_completed,
    authorization_requested,
    closed,
    event_json,
    make_event,
    simple,
)
from transactions import events as ev
from transactions.models import Transaction, TransactionEvent
from transactions.store import (
    ConcurrentAppendError,
    EventConflictError,
    EventOrderError,
    append_event,
    append_events,
    apply_to_view,
    epoch_milliseconds,
    load_events,
    load_state,
    record_events,
    store_incoming_event,
)

pytestmark = pytest.mark.django_db


def store_all(*events):
    for event in events:
        store_incoming_event(event)


def test_events_load_in_sequence_order_and_equal_what_was_stored():
    events = [activated(), authorization_requested(), authorization_completed()]
    store_all(*events)
    assert load_events(TX) == events
    assert [e.to_json() for e in load_events(TX)] == [e.to_json() for e in events]
    assert list(TransactionEvent.objects.filter(transaction_id=TX).values_list("sequence", flat=True)) == [1, 2, 3]
    assert load_events("0" * 32) == []


def test_append_after_the_expected_sequence_gets_the_next_number():
    store_all(activated())
    assert append_event(TX, authorization_requested(), expected_sequence=1) == 2
    assert load_state(TX).status is ev.TransactionStatus.AUTHORIZATION_REQUESTED


def test_second_append_with_the_same_expected_sequence_conflicts_and_writes_nothing():
    store_all(activated())
    append_event(TX, authorization_requested(), expected_sequence=1)
    loser = simple(C.TRANSACTION_USER_CANCELED_EVENT)
    with pytest.raises(ConcurrentAppendError):
        append_event(TX, loser, expected_sequence=1)
    assert not TransactionEvent.objects.filter(pk=loser.id).exists()
    assert TransactionEvent.objects.filter(transaction_id=TX).count() == 2


def test_several_events_append_all_or_none():
    store_all(activated())
    first, second = authorization_requested(), simple(C.TRANSACTION_USER_CANCELED_EVENT)
    append_event(TX, first, expected_sequence=1)
    with pytest.raises(ConcurrentAppendError):
        append_events(TX, [simple(C.TRANSACTION_EXPIRED_EVENT, statusBeforeExpiration="ACTIVATED"), second], 1)
    assert TransactionEvent.objects.filter(transaction_id=TX).count() == 2
    assert append_events(TX, [authorization_completed(), simple(C.TRANSACTION_CLOSURE_REQUESTED_EVENT)], 2) == 4


def test_append_refuses_a_gap_and_a_foreign_transaction():
    store_all(activated())
    with pytest.raises(ValueError, match="no event number 5"):
        append_event(TX, authorization_requested(), expected_sequence=5)
    other = make_event(C.TRANSACTION_USER_CANCELED_EVENT, transaction_id="a" * 32)
    with pytest.raises(ValueError, match="belongs to transaction"):
        append_event(TX, other, expected_sequence=1)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_appends_with_the_same_expected_sequence_exactly_one_wins():
    store_all(activated())
    barrier = threading.Barrier(2)
    outcomes = []

    def contender(event):
        try:
            barrier.wait()
            append_event(TX, event, expected_sequence=1)
            outcomes.append("won")
        except ConcurrentAppendError:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=contender, args=(e,))
        for e in (authorization_requested(), simple(C.TRANSACTION_USER_CANCELED_EVENT))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "won"]
    assert TransactionEvent.objects.filter(transaction_id=TX).count() == 2


def test_incoming_event_is_stored_once():
    event = activated()
    first = store_incoming_event(event)
    again = store_incoming_event(ev.parse_event(event.to_json_dict()))
    assert (first.stored, first.sequence) == (True, 1)
    assert (again.stored, again.sequence) == (False, 1)
    assert TransactionEvent.objects.count() == 1


def test_same_id_with_different_content_is_a_conflict():
    event = activated()
    store_incoming_event(event)
    changed = event_json(C.TRANSACTION_ACTIVATED_EVENT, event_id=event.id, creation_date=event.creation_date)
    changed["data"]["paymentTokenValiditySeconds"] = 1800
    with pytest.raises(EventConflictError, match=event.id):
        store_incoming_event(ev.parse_event(changed))
    assert TransactionEvent.objects.get().data["paymentTokenValiditySeconds"] == 900


def test_incoming_events_must_start_with_activation_and_keep_time_order():
    with pytest.raises(EventOrderError, match="first event must be TRANSACTION_ACTIVATED_EVENT"):
        store_incoming_event(authorization_requested())
    late = activated()
    early_date = "2020-01-01T00:00:00+01:00[Europe/Rome]"
    store_incoming_event(late)
    with pytest.raises(EventOrderError, match="already activated"):
        store_incoming_event(activated())
    with pytest.raises(EventOrderError, match="earlier than the last stored"):
        store_incoming_event(make_event(C.TRANSACTION_USER_CANCELED_EVENT, creation_date=early_date))
    assert TransactionEvent.objects.count() == 1


def test_activation_creates_the_view():
    event = activated()
    store_incoming_event(event)
    view = Transaction.objects.get(pk=TX)
    assert view.status == "ACTIVATED"
    assert view.client_id == "CHECKOUT"
    assert view.email_token == "5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f"
    assert view.payment_tokens == "0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d"
    assert view.rpt_ids == "77777777777302016723749670035"
    assert view.payment_notices[0]["amount"] == 12000
    assert view.creation_date == event.creation_date
    assert view.last_processed_event_at == epoch_milliseconds(event.created_at)


def test_view_follows_incoming_events_with_authorization_fields():
    store_all(activated(), authorization_requested(), authorization_completed())
    view = Transaction.objects.get(pk=TX)
    assert view.status == "AUTHORIZATION_COMPLETED"
    assert (view.fee_total, view.payment_gateway, view.payment_type_code, view.psp_id) == (150, "NPG", "CP", "BCITITMM")
    assert (view.rrn, view.authorization_code, view.gateway_authorization_status) == (
        "231234567890",
        "123456",
        "EXECUTED",
    )
    assert view.amount_total == 12150


def test_view_closure_fields_follow_closure_events():
    store_all(activated(), authorization_requested(), authorization_completed())
    store_all(simple(C.TRANSACTION_CLOSURE_REQUESTED_EVENT), simple(C.TRANSACTION_CLOSURE_ERROR_EVENT))
    view = Transaction.objects.get(pk=TX)
    assert view.status == "CLOSURE_ERROR"
    assert view.closure_error_data["httpErrorCode"] == "INTERNAL_SERVER_ERROR"
    store_all(closed("OK"))
    view.refresh_from_db()
    assert view.status == "CLOSED"
    assert view.closure_error_data is None
    assert view.send_payment_result_outcome == "NOT_RECEIVED"
    assert view.as_json_dict()["closureErrorData"] is None


def test_handlers_set_the_view_status_and_fields_explicitly():
    store_all(activated())
    waiting = make_event(C.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT)
    append_event(TX, waiting, expected_sequence=1)
    error = ev.ClosureErrorData.from_response(None, "timeout")
    assert apply_to_view(
        waiting,
        status=ev.TransactionStatus.CLOSURE_ERROR,
        closure_error_data=error,
        send_payment_result_outcome=None,
    )
    view = Transaction.objects.get(pk=TX)
    assert view.status == "CLOSURE_ERROR"
    assert view.closure_error_data == {
        "httpErrorCode": None,
        "errorDescription": "timeout",
        "errorType": "COMMUNICATION_ERROR",
    }
    assert view.as_json_dict()["sendPaymentResultOutcome"] is None


def test_view_update_without_a_view_is_skipped():
    orphan = make_event(C.TRANSACTION_USER_CANCELED_EVENT, transaction_id="c" * 32)
    assert apply_to_view(orphan, status=ev.TransactionStatus.CANCELLATION_REQUESTED) is False
    assert not Transaction.objects.exists()


def test_record_events_appends_after_the_state_and_sets_the_view():
    store_all(activated(), authorization_requested(), authorization_completed())
    state = load_state(TX)
    closure_requested = simple(C.TRANSACTION_CLOSURE_REQUESTED_EVENT)
    error = simple(C.TRANSACTION_CLOSURE_ERROR_EVENT)
    assert record_events(state, [closure_requested, error], view_status=ev.TransactionStatus.CLOSURE_ERROR) == 5
    view = Transaction.objects.get(pk=TX)
    assert view.status == "CLOSURE_ERROR"
    assert view.closure_error_data["errorType"] == "KO_RESPONSE_RECEIVED"
    with pytest.raises(ConcurrentAppendError), transaction.atomic():  # as a decision: all of it rolls back
        record_events(state, [closed("OK")], view_status=ev.TransactionStatus.CLOSED)
    assert Transaction.objects.get(pk=TX).status == "CLOSURE_ERROR"


def test_stored_events_keep_absent_optional_fields_absent():
    document = event_json(C.TRANSACTION_ACTIVATED_EVENT)
    del document["data"]["idCart"], document["data"]["userId"]
    del document["data"]["paymentNotices"][0]["creditorReferenceId"]
    event = ev.parse_event(document)
    store_incoming_event(event)
    (loaded,) = load_events(TX)
    assert loaded.to_json() == event.to_json()
    assert "idCart" not in loaded.to_json_dict()["data"]
