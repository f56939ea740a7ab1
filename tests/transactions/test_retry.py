"""The retry engine of spec §6: linear visibility, attempt limits, token deadline, and the enqueue step."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings

from receivers.models import OutboxMessage
from receivers.outbox import Outbox
from tests.transactions.factories import (
    NPG_AUTHORIZATION,
    TX,
    C,
    activated,
    authorization_completed,
    authorization_requested,
    closed,
    simple,
)
from tests.transactions.histories import history
from transactions import events as ev
from transactions.models import Transaction, TransactionEvent
from transactions.retry import (
    NoRetryAttemptsLeft,
    RetryKind,
    TooLateRetryAttempt,
    authorization_outcome_schedule_warning,
    enqueue_retry_event,
    plan_retry,
    retry_policy,
    retry_visibility_seconds,
)
from transactions.store import ConcurrentAppendError, load_state, store_incoming_event

TRACING = {
    "traceparent": "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-00",
    "tracestate": None,
    "baggage": None,
}


def config(settings, **changes):
    return override_settings(DISPATCHER=settings.DISPATCHER.replace(**changes))


@pytest.mark.parametrize(("base", "attempt", "expected"), [(30, 1, 30), (30, 2, 60), (30, 3, 90), (600, 5, 3000)])
def test_visibility_is_linear_in_the_attempt(base, attempt, expected):
    assert retry_visibility_seconds(base, attempt) == expected


@pytest.mark.parametrize("kind", list(RetryKind))
def test_the_last_allowed_attempt_passes_and_the_next_has_no_attempts_left(kind, settings):
    activation = activated()
    now = activation.created_at  # far from the token deadline for the first attempts
    with config(settings, **{_max_variable(kind): 2}):
        policy = retry_policy(kind)
        assert plan_retry(policy, 0, activation, now).attempt == 1
        assert plan_retry(policy, 1, activation, now).attempt == 2
        with pytest.raises(NoRetryAttemptsLeft) as raised:
            plan_retry(policy, 2, activation, now)
    assert not isinstance(raised.value, TooLateRetryAttempt)


def _max_variable(kind):
    return {
        RetryKind.CLOSURE: "CLOSE_PAYMENT_RETRY_EVENT_MAX_ATTEMPTS",
        RetryKind.REFUND: "REFUND_RETRY_EVENT_MAX_ATTEMPTS",
        RetryKind.NOTIFICATION: "NOTIFICATION_RETRY_EVENT_MAX_ATTEMPTS",
        RetryKind.AUTHORIZATION_OUTCOME: "AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS",
    }[kind]


@pytest.mark.parametrize(
    ("kind", "base", "offset"),
    [(RetryKind.CLOSURE, 30, 10), (RetryKind.AUTHORIZATION_OUTCOME, 80, 10)],
)
def test_closure_and_outcome_retries_must_be_visible_strictly_before_the_token_deadline(kind, base, offset):
    activation = activated()  # paymentTokenValiditySeconds 900
    policy = retry_policy(kind)
    deadline = activation.created_at + timedelta(seconds=900 - offset)
    just_in_time = deadline - timedelta(seconds=base, microseconds=1)
    assert plan_retry(policy, 0, activation, just_in_time).visibility_seconds == base
    with pytest.raises(TooLateRetryAttempt):
        plan_retry(policy, 0, activation, deadline - timedelta(seconds=base))
    with pytest.raises(NoRetryAttemptsLeft):  # TooLateRetryAttempt is a NoRetryAttemptsLeft
        plan_retry(policy, 0, activation, deadline)


@pytest.mark.parametrize("kind", [RetryKind.REFUND, RetryKind.NOTIFICATION])
def test_refund_and_notification_retries_ignore_the_token_deadline(kind):
    activation = activated()
    long_after = activation.created_at + timedelta(days=2)
    assert plan_retry(retry_policy(kind), 0, activation, long_after).attempt == 1


def test_policies_read_the_configuration_at_call_time(settings):
    with config(settings, CLOSE_PAYMENT_RETRY_EVENT_BASE_INTERVAL_SECONDS=7, CLOSE_PAYMENT_RETRY_EVENT_MAX_ATTEMPTS=9):
        policy = retry_policy(RetryKind.CLOSURE)
    assert (policy.base_interval_seconds, policy.max_attempts) == (7, 9)
    assert retry_policy(RetryKind.CLOSURE).base_interval_seconds == 30


@pytest.mark.parametrize(
    ("base", "attempts", "expected"),
    [
        (80, 3, None),  # prod: attempts at 60, 140, 300 s
        (240, 2, None),
        (239, 2, "at least 240"),
        (79, 3, "at least 80"),
        (30, 3, "at least 80"),
        (120, 2, "at least 240"),
        (10, 1, "MAX_ATTEMPTS above 1"),
    ],
)
def test_authorization_outcome_schedule_warning(base, attempts, expected):
    warning = authorization_outcome_schedule_warning(base, attempts)
    if expected is None:
        assert warning is None
    else:
        assert expected in warning


# --- the enqueue step (database + outbox) -----------------------------------------------------------


def stored(events):
    for event in events:
        store_incoming_event(event)
    return load_state(events[0].transaction_id)


def fresh(events):
    """The same history with creation dates close to now, so the token deadline is in the future."""
    rewritten = []
    for event in events:
        document = event.to_json_dict()
        document["creationDate"] = ev.now_zoned_text()
        rewritten.append(ev.parse_event(document))
    return rewritten


def sent(outbox):
    """The one row the decision wrote (in these non-transactional tests nothing commits for real)."""
    (message,) = OutboxMessage.objects.all()
    body = json.loads(message.text)
    return message, body


@pytest.mark.django_db
def test_closure_retry_appends_the_event_sets_the_view_and_sends_the_message():
    state = stored(fresh(history("closure error OK")))
    outbox = Outbox()
    error = ev.ClosureErrorData.from_response(503, "Service Unavailable")
    with outbox.decision():
        event = enqueue_retry_event(RetryKind.CLOSURE, state, 1, outbox, TRACING, closure_error_data=error)
    assert isinstance(event, ev.TransactionClosureRetriedEvent)
    assert event.data.retry_count == 2
    message, body = sent(outbox)
    assert (message.queue_key, message.visibility_seconds) == ("close-payment-retry", 60)
    assert body == {"event": event.to_json_dict(), "tracingInfo": TRACING}
    assert body["event"]["data"]["closureErrorData"]["httpErrorCode"] == "SERVICE_UNAVAILABLE"
    record = TransactionEvent.objects.get(pk=event.id)
    assert record.sequence == state.last_sequence + 1
    view = Transaction.objects.get(pk=state.transaction_id)
    assert view.status == "CLOSURE_ERROR"
    assert view.closure_error_data["errorDescription"] == "Service Unavailable"


@pytest.mark.django_db
def test_refund_retry_carries_the_gateway_authorization_data():
    events = [*history("refund requested"), simple(C.TRANSACTION_REFUND_ERROR_EVENT)]
    state = stored(events)
    outbox = Outbox()
    auth = state.refund_gateway_authorization_data
    with outbox.decision():
        event = enqueue_retry_event(RetryKind.REFUND, state, 0, outbox, TRACING, gateway_authorization_data=auth)
    message, body = sent(outbox)
    assert (message.queue_key, message.visibility_seconds) == ("refund-retry", 600)
    assert body["event"]["eventCode"] == "TRANSACTION_REFUND_RETRIED_EVENT"
    assert body["event"]["data"] == {"retryCount": 1, "transactionGatewayAuthorizationData": NPG_AUTHORIZATION}
    assert event.data.transaction_gateway_authorization_data == auth
    assert Transaction.objects.get(pk=TX).status == "REFUND_ERROR"
    assert load_state(TX).status is ev.TransactionStatus.REFUND_ERROR


@pytest.mark.django_db
def test_notification_retry_uses_the_receipt_retry_event(settings):
    state = stored(history("notification error KO"))
    outbox = Outbox()
    with config(settings, NOTIFICATION_RETRY_EVENT_BASE_INTERVAL_SECONDS=5), outbox.decision():
        event = enqueue_retry_event(RetryKind.NOTIFICATION, state, 2, outbox, TRACING)
    message, body = sent(outbox)
    assert isinstance(event, ev.TransactionUserReceiptAddRetriedEvent)
    assert (message.queue_key, message.visibility_seconds) == ("notifications-retry", 15)
    assert body["event"]["data"] == {"retryCount": 3}
    assert Transaction.objects.get(pk=TX).status == "NOTIFICATION_ERROR"


@pytest.mark.django_db
def test_authorization_outcome_retry_sets_the_view_back_to_authorization_requested():
    state = stored(fresh([activated(), authorization_requested(), authorization_completed()]))
    outbox = Outbox()
    with outbox.decision():
        event = enqueue_retry_event(RetryKind.AUTHORIZATION_OUTCOME, state, 0, outbox, TRACING)
    message, _body = sent(outbox)
    assert isinstance(event, ev.TransactionAuthorizationOutcomeWaitingEvent)
    assert (message.queue_key, message.visibility_seconds) == ("authorization-outcome-waiting", 80)
    assert Transaction.objects.get(pk=TX).status == "AUTHORIZATION_REQUESTED"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "retried_count"),
    [(RetryKind.CLOSURE, 3), (RetryKind.CLOSURE, 0), (RetryKind.AUTHORIZATION_OUTCOME, 0), (RetryKind.REFUND, 5)],
    ids=["closure exhausted", "closure too late", "outcome too late", "refund exhausted"],
)
def test_no_retry_left_stores_and_sends_nothing(kind, retried_count):
    # The fixture history dates from 2023, so its payment token expired long ago.
    state = stored(history("closure error OK"))
    outbox = Outbox()
    with pytest.raises(NoRetryAttemptsLeft), outbox.decision():
        enqueue_retry_event(kind, state, retried_count, outbox, TRACING)
    assert not OutboxMessage.objects.exists()
    assert TransactionEvent.objects.count() == state.last_sequence


@pytest.mark.django_db
def test_a_stale_state_conflicts_and_sends_nothing():
    state = stored(fresh(history("closure error OK")))
    (late_closure,) = fresh([closed("OK")])
    store_incoming_event(late_closure)
    outbox = Outbox()
    with pytest.raises(ConcurrentAppendError), outbox.decision():
        enqueue_retry_event(RetryKind.CLOSURE, state, 0, outbox, TRACING)
    assert not OutboxMessage.objects.exists()
