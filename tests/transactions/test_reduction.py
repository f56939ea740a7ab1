"""The reduction table of spec §3.5, row by row, and what the aggregate exposes."""

import pytest

from tests.transactions.factories import (
    C,
    activated,
    authorization_completed,
    authorization_requested,
    closed,
    expired,
    receipt,
    simple,
)
from tests.transactions.histories import HISTORIES, history
from transactions.events import (
    NpgTransactionGatewayAuthorizationData,
    RedirectTransactionGatewayAuthorizationData,
    TransactionStatus,
)
from transactions.reduction import reduce_events

S = TransactionStatus


def refund_requested_without_auth_data():
    return simple(C.TRANSACTION_REFUND_REQUESTED_EVENT, gatewayAuthData=None)


EVENTS = {
    "ACTIVATED": activated,
    "AUTH_REQUESTED": authorization_requested,
    "AUTH_COMPLETED": authorization_completed,
    "OUTCOME_WAITING": lambda: simple(C.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT),
    "CLOSURE_REQUESTED": lambda: simple(C.TRANSACTION_CLOSURE_REQUESTED_EVENT),
    "USER_CANCELED": lambda: simple(C.TRANSACTION_USER_CANCELED_EVENT),
    "CLOSED": closed,
    "CLOSED_CANCELED": lambda: closed(canceled=True),
    "CLOSURE_FAILED": lambda: simple(C.TRANSACTION_CLOSURE_FAILED_EVENT),
    "CLOSURE_ERROR": lambda: simple(C.TRANSACTION_CLOSURE_ERROR_EVENT),
    "CLOSURE_RETRIED": lambda: simple(C.TRANSACTION_CLOSURE_RETRIED_EVENT),
    "SYNTHETIC": lambda: simple(C.TRANSACTION_CLOSURE_SYNTHETIC_EVENT),
    "RECEIPT_REQUESTED": lambda: receipt(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT),
    "RECEIPT_ADDED_OK": lambda: receipt(C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, "OK"),
    "RECEIPT_ADDED_KO": lambda: receipt(C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, "KO"),
    "ADD_RECEIPT_ERROR": lambda: receipt(C.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT),
    "ADD_RECEIPT_RETRY": lambda: simple(C.TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT),
    "EXPIRED": lambda: expired("ACTIVATED"),
    "REFUND_REQUESTED": lambda: simple(C.TRANSACTION_REFUND_REQUESTED_EVENT),
    "REFUND_ERROR": lambda: simple(C.TRANSACTION_REFUND_ERROR_EVENT),
    "REFUND_RETRIED": lambda: simple(C.TRANSACTION_REFUND_RETRIED_EVENT),
    "REFUNDED": lambda: simple(C.TRANSACTION_REFUNDED_EVENT),
}

TABLE = [
    ("empty", "ACTIVATED", S.ACTIVATED),
    ("empty", "AUTH_REQUESTED", None),
    ("activated", "AUTH_REQUESTED", S.AUTHORIZATION_REQUESTED),
    ("activated", "EXPIRED", S.EXPIRED_NOT_AUTHORIZED),
    ("activated", "USER_CANCELED", S.CANCELLATION_REQUESTED),
    ("activated", "CLOSURE_REQUESTED", S.ACTIVATED),
    ("activated", "ACTIVATED", S.ACTIVATED),
    ("authorization requested", "AUTH_COMPLETED", S.AUTHORIZATION_COMPLETED),
    ("authorization requested", "EXPIRED", S.EXPIRED),
    ("authorization requested", "OUTCOME_WAITING", S.AUTHORIZATION_REQUESTED),
    ("authorization requested", "REFUND_REQUESTED", S.AUTHORIZATION_REQUESTED),
    ("authorization completed OK", "CLOSURE_REQUESTED", S.CLOSURE_REQUESTED),
    ("authorization completed OK", "EXPIRED", S.EXPIRED),
    ("authorization completed OK", "CLOSED", S.AUTHORIZATION_COMPLETED),
    ("closure requested OK", "CLOSED", S.CLOSED),
    ("closure requested OK", "SYNTHETIC", S.CLOSED),
    ("closure requested KO", "CLOSED", S.CLOSURE_REQUESTED),
    ("closure requested KO", "SYNTHETIC", S.CLOSURE_REQUESTED),
    ("closure requested OK", "CLOSURE_ERROR", S.CLOSURE_ERROR),
    ("closure requested KO", "CLOSURE_FAILED", S.UNAUTHORIZED),
    ("closure requested OK", "CLOSURE_FAILED", S.CLOSURE_REQUESTED),
    ("closure requested OK", "EXPIRED", S.EXPIRED),
    ("closure requested OK", "REFUND_REQUESTED", S.CLOSURE_REQUESTED),
    ("cancellation requested", "CLOSED_CANCELED", S.CANCELED),
    ("cancellation requested", "CLOSURE_ERROR", S.CLOSURE_ERROR),
    ("cancellation requested", "EXPIRED", S.CANCELLATION_EXPIRED),
    ("cancellation requested", "SYNTHETIC", S.CANCELLATION_REQUESTED),
    ("closure error after cancel", "CLOSED_CANCELED", S.CANCELED),
    ("closure error after cancel", "EXPIRED", S.CANCELLATION_EXPIRED),
    ("closure error after cancel", "REFUND_REQUESTED", S.CLOSURE_ERROR),
    ("closure error after cancel", "SYNTHETIC", S.CLOSURE_ERROR),
    ("closure error OK", "CLOSED", S.CLOSED),
    ("closure error OK", "SYNTHETIC", S.CLOSED),
    ("closure error OK", "EXPIRED", S.EXPIRED),
    ("closure error OK", "REFUND_REQUESTED", S.REFUND_REQUESTED),
    ("closure error OK", "CLOSURE_RETRIED", S.CLOSURE_ERROR),
    ("closure error OK", "CLOSURE_ERROR", S.CLOSURE_ERROR),
    ("closure error OK", "CLOSURE_FAILED", S.CLOSURE_ERROR),
    ("closure error KO", "CLOSURE_FAILED", S.UNAUTHORIZED),
    ("closure error KO", "CLOSED", S.CLOSURE_ERROR),
    ("closed OK", "EXPIRED", S.EXPIRED),
    ("closed KO", "REFUND_REQUESTED", S.REFUND_REQUESTED),
    ("closed OK", "RECEIPT_REQUESTED", S.NOTIFICATION_REQUESTED),
    ("closed OK", "RECEIPT_ADDED_OK", S.CLOSED),
    ("notification requested OK", "RECEIPT_ADDED_OK", S.NOTIFIED_OK),
    ("notification requested KO", "RECEIPT_ADDED_KO", S.NOTIFIED_KO),
    ("notification requested OK", "EXPIRED", S.EXPIRED),
    ("notification requested OK", "ADD_RECEIPT_ERROR", S.NOTIFICATION_ERROR),
    ("notification requested KO", "REFUND_REQUESTED", S.NOTIFICATION_REQUESTED),
    ("notification error OK", "RECEIPT_ADDED_OK", S.NOTIFIED_OK),
    ("notification error KO", "RECEIPT_ADDED_KO", S.NOTIFIED_KO),
    ("notification error OK", "EXPIRED", S.EXPIRED),
    ("notification error KO", "REFUND_REQUESTED", S.REFUND_REQUESTED),
    ("notification error OK", "REFUND_REQUESTED", S.NOTIFICATION_ERROR),
    ("notification error OK", "ADD_RECEIPT_RETRY", S.NOTIFICATION_ERROR),
    ("notified KO", "REFUND_REQUESTED", S.REFUND_REQUESTED),
    ("notified KO", "EXPIRED", S.EXPIRED),
    ("expired after authorization requested", "REFUND_REQUESTED", S.REFUND_REQUESTED),
    ("expired after authorization requested", "AUTH_COMPLETED", S.EXPIRED),
    ("expired after authorization requested", "EXPIRED", S.EXPIRED),
    ("expired after closure requested OK", "SYNTHETIC", S.CLOSED),
    ("expired after closure error OK", "SYNTHETIC", S.CLOSED),
    ("expired after closure requested KO", "SYNTHETIC", S.EXPIRED),
    ("expired after authorization completed OK", "SYNTHETIC", S.EXPIRED),
    ("expired after closed OK", "RECEIPT_REQUESTED", S.NOTIFICATION_REQUESTED),
    ("expired after authorization requested", "RECEIPT_REQUESTED", S.EXPIRED),
    ("expired after notification requested OK", "RECEIPT_ADDED_OK", S.NOTIFIED_OK),
    ("expired after notification error KO", "RECEIPT_ADDED_KO", S.NOTIFIED_KO),
    ("expired after closed OK", "RECEIPT_ADDED_OK", S.EXPIRED),
    ("refund requested", "REFUNDED", S.REFUNDED),
    ("refund requested", "REFUND_ERROR", S.REFUND_ERROR),
    ("refund requested", "REFUND_RETRIED", S.REFUND_REQUESTED),
    ("refund error", "REFUNDED", S.REFUNDED),
    ("refund error", "REFUND_RETRIED", S.REFUND_ERROR),
    ("refund error", "EXPIRED", S.REFUND_ERROR),
]


@pytest.mark.parametrize(("start", "event", "expected"), TABLE, ids=[f"{s} + {e}" for s, e, _ in TABLE])
def test_reduction_table(start, event, expected):
    assert reduce_events([*history(start), EVENTS[event]()]).status is expected


FINAL = ["notified OK", "unauthorized", "canceled", "refunded", "expired not authorized", "cancellation expired"]


@pytest.mark.parametrize("start", FINAL)
@pytest.mark.parametrize("event", sorted(EVENTS))
def test_final_states_ignore_every_event(start, event):
    before = reduce_events(history(start)).status
    assert before.is_final
    assert reduce_events([*history(start), EVENTS[event]()]).status is before


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_ignored_events_are_still_counted_for_the_append_sequence(name):
    events = [*history(name), EVENTS["OUTCOME_WAITING"]()]
    assert reduce_events(events).last_sequence == len(events)


def test_closure_error_remembers_whether_it_followed_a_cancellation():
    after_cancel = reduce_events(history("closure error after cancel"))
    after_closure = reduce_events(history("closure error OK"))
    assert after_cancel.previous.status is S.CANCELLATION_REQUESTED
    assert after_cancel.is_cancellation
    assert not after_cancel.is_closure_requested
    assert after_closure.previous.status is S.CLOSURE_REQUESTED
    assert after_closure.is_closure_requested
    assert not after_closure.is_cancellation


def test_expired_remembers_the_state_before_and_unwraps_nested_wrappers():
    state = reduce_events(history("expired after closure error OK"))
    assert state.status is S.EXPIRED
    assert state.previous.status is S.CLOSURE_ERROR
    assert state.unwrapped.status is S.CLOSURE_REQUESTED


def test_refund_requested_after_expiration_remembers_the_state_before_expiration():
    state = reduce_events([*history("expired after notified KO"), EVENTS["REFUND_REQUESTED"]()])
    assert state.status is S.REFUND_REQUESTED
    assert state.previous.status is S.NOTIFIED_KO


def test_authorized_and_outcome_ko_follow_the_gateway_data():
    for gateway in ("NPG", "REDIRECT"):
        ok = reduce_events([activated(), authorization_requested(gateway), authorization_completed(True, gateway)])
        ko = reduce_events([activated(), authorization_requested(gateway), authorization_completed(False, gateway)])
        assert ok.is_authorized
        assert not ok.is_authorization_outcome_ko
        assert ko.is_authorization_outcome_ko
        assert not ko.is_authorized
    pending = reduce_events(history("authorization requested"))
    assert not pending.is_authorized
    assert not pending.is_authorization_outcome_ko


def test_refund_gateway_data_comes_from_the_completed_authorization_when_there_is_one():
    state = reduce_events(
        [
            activated(),
            authorization_requested("REDIRECT"),
            authorization_completed(True, "REDIRECT"),
            simple(C.TRANSACTION_CLOSURE_REQUESTED_EVENT),
            closed("KO"),
            EVENTS["REFUND_REQUESTED"](),  # carries NPG data, but the completed REDIRECT data wins
        ]
    )
    assert isinstance(state.refund_gateway_authorization_data, RedirectTransactionGatewayAuthorizationData)


def test_refund_gateway_data_otherwise_comes_from_the_latest_refund_event():
    expired_unknown_outcome = history("expired after authorization requested")
    requested = reduce_events([*expired_unknown_outcome, refund_requested_without_auth_data()])
    assert requested.refund_gateway_authorization_data is None
    retried = reduce_events(
        [
            *expired_unknown_outcome,
            refund_requested_without_auth_data(),
            EVENTS["REFUND_ERROR"](),
            EVENTS["REFUND_RETRIED"](),
        ]
    )
    assert isinstance(retried.refund_gateway_authorization_data, NpgTransactionGatewayAuthorizationData)
    assert retried.refund_gateway_authorization_data.operation_id == "01234567890123456789"


def test_closure_events_are_seen_even_when_the_reduction_ignored_them():
    ignored_closed = [*history("closure requested KO"), closed("OK")]
    assert reduce_events(ignored_closed).status is S.CLOSURE_REQUESTED
    assert reduce_events(ignored_closed).has_closure_event
    assert not reduce_events(history("closure error OK")).has_closure_event
    assert reduce_events(history("unauthorized")).has_closure_event


def test_the_aggregate_gives_access_to_each_events_data():
    state = reduce_events(history("notified KO"))
    assert state.transaction_id == "bdb92a6577fb4aab9bba2ebb80cd8310"
    assert state.activation_data.payment_token_validity_seconds == 900
    assert state.authorization_request_data.fee == 150
    assert state.authorization_completed_data.rrn == "231234567890"
    assert state.closure_data.response_outcome.value == "OK"
    assert state.user_receipt_data.response_outcome.value == "KO"
    assert state.was_authorization_requested
    empty = reduce_events([])
    assert empty.status is None
    assert empty.transaction_id is None
    assert empty.activation_data is None


def test_first_successful_closed_event_skips_ko_closures():
    ko_then_ok = [*history("closure requested OK"), closed("KO"), closed("OK")]
    state = reduce_events(ko_then_ok)
    assert state.first_successful_closed_event is ko_then_ok[-1]
    assert reduce_events(history("closed KO")).first_successful_closed_event is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("refund requested", True), ("refund error", True), ("refunded", True), ("closed KO", False)],
)
def test_refund_requested_covers_the_three_refund_statuses(name, expected):
    assert reduce_events(history(name)).is_refund_requested is expected
