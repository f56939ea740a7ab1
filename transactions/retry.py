"""The retry engine shared by closure, refund, notification and authorization-outcome retries (spec §6).

The arithmetic is pure (`retry_visibility_seconds`, `check_attempts_left`, `check_payment_token_validity`,
`plan_retry`); `enqueue_retry_event` is the one function with effects: it appends the retry event,
updates the view and puts the retry message in the handler's outbox.

    try:
        enqueue_retry_event(RetryKind.CLOSURE, state, retried_count, outbox, message.tracing_info,
                            closure_error_data=error_data)
    except NoRetryAttemptsLeft as exhausted:   # TooLateRetryAttempt included
        raise HandlerError(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, str(exhausted)) from exhausted
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from receivers.outbox import Outbox
from transactions import events as ev
from transactions.reduction import TransactionState
from transactions.store import record_events

# Assumptions of the reference's start-up check of the authorization-outcome schedule (spec §6).
FIRST_OUTCOME_ATTEMPT_SECONDS = 60
GDI_CHECK_MAX_SECONDS = 300


class NoRetryAttemptsLeft(Exception):
    """The retry would exceed the maximum number of attempts; nothing was stored or sent."""


class TooLateRetryAttempt(NoRetryAttemptsLeft):
    """The retry would become visible after the payment token expires; nothing was stored or sent."""


class RetryKind(enum.StrEnum):
    CLOSURE = "CLOSURE"
    REFUND = "REFUND"
    NOTIFICATION = "NOTIFICATION"
    AUTHORIZATION_OUTCOME = "AUTHORIZATION_OUTCOME"


@dataclass(frozen=True)
class RetryPolicy:
    """One row of the §6 table, with the configuration values of the moment."""

    kind: RetryKind
    base_interval_seconds: int
    max_attempts: int
    token_validity_offset_seconds: int | None  # None: no payment-token validity check
    queue_key: str
    view_status: ev.TransactionStatus


def retry_policy(kind: RetryKind) -> RetryPolicy:
    """The policy of `kind`, read from settings.DISPATCHER now (so tests can override it)."""
    config = settings.DISPATCHER
    status = ev.TransactionStatus
    if kind is RetryKind.CLOSURE:
        return RetryPolicy(
            kind,
            config.CLOSE_PAYMENT_RETRY_EVENT_BASE_INTERVAL_SECONDS,
            config.CLOSE_PAYMENT_RETRY_EVENT_MAX_ATTEMPTS,
            config.CLOSE_PAYMENT_RETRY_EVENT_PAYMENT_TOKEN_VALIDITY_TIME_OFFSET,
            "close-payment-retry",
            status.CLOSURE_ERROR,
        )
    if kind is RetryKind.REFUND:
        return RetryPolicy(
            kind,
            config.REFUND_RETRY_EVENT_BASE_INTERVAL_SECONDS,
            config.REFUND_RETRY_EVENT_MAX_ATTEMPTS,
            None,
            "refund-retry",
            status.REFUND_ERROR,
        )
    if kind is RetryKind.NOTIFICATION:
        return RetryPolicy(
            kind,
            config.NOTIFICATION_RETRY_EVENT_BASE_INTERVAL_SECONDS,
            config.NOTIFICATION_RETRY_EVENT_MAX_ATTEMPTS,
            None,
            "notifications-retry",
            status.NOTIFICATION_ERROR,
        )
    return RetryPolicy(
        kind,
        config.AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS,
        config.AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS,
        config.AUTHORIZATION_OUTCOME_WAITING_EVENT_PAYMENT_TOKEN_VALIDITY_TIME_OFFSET_SECONDS,
        "authorization-outcome-waiting",
        status.AUTHORIZATION_REQUESTED,
    )


# --- arithmetic -------------------------------------------------------------------------------------


def retry_visibility_seconds(base_interval_seconds: int, attempt: int) -> int:
    """Linear back-off: attempt n becomes visible base * n seconds after it is sent."""
    return base_interval_seconds * attempt


def check_attempts_left(attempt: int, max_attempts: int) -> None:
    if attempt > max_attempts:
        raise NoRetryAttemptsLeft(f"retry attempt {attempt} exceeds the maximum of {max_attempts}")


def payment_token_deadline(activation: ev.TransactionActivatedEvent, offset_seconds: int) -> datetime:
    """The last moment a retry may become visible: activation + token validity - offset."""
    validity = activation.data.payment_token_validity_seconds
    return activation.created_at + timedelta(seconds=validity - offset_seconds)


def check_payment_token_validity(
    activation: ev.TransactionActivatedEvent, offset_seconds: int, visibility_seconds: int, now: datetime
) -> None:
    """Raise TooLateRetryAttempt unless the deadline is strictly after now + visibility."""
    deadline = payment_token_deadline(activation, offset_seconds)
    visible_at = now + timedelta(seconds=visibility_seconds)
    if not deadline > visible_at:
        raise TooLateRetryAttempt(
            f"the retry would be visible at {visible_at.isoformat()}, "
            f"not before the payment token deadline {deadline.isoformat()}"
        )


@dataclass(frozen=True)
class RetryPlan:
    attempt: int  # the retry event's retryCount
    visibility_seconds: int


def plan_retry(
    policy: RetryPolicy,
    retried_count: int,
    activation: ev.TransactionActivatedEvent | None,
    now: datetime,
) -> RetryPlan:
    """Attempt number and visibility of the next retry, or NoRetryAttemptsLeft / TooLateRetryAttempt."""
    attempt = retried_count + 1
    visibility = retry_visibility_seconds(policy.base_interval_seconds, attempt)
    check_attempts_left(attempt, policy.max_attempts)
    if policy.token_validity_offset_seconds is not None:
        if activation is None:
            raise TooLateRetryAttempt("no activation event: the payment token validity is unknown")
        check_payment_token_validity(activation, policy.token_validity_offset_seconds, visibility, now)
    return RetryPlan(attempt, visibility)


def authorization_outcome_schedule_warning(base_interval_seconds: int, max_attempts: int) -> str | None:
    """The start-up warning when the last outcome attempt comes before NPG's GDI check can end.

    Attempt i (0-based) happens at base * i(i+1)/2 + 60 s; the last must be at 300 s or later.
    """
    last = max_attempts - 1
    last_attempt_seconds = base_interval_seconds * last * (last + 1) // 2 + FIRST_OUTCOME_ATTEMPT_SECONDS
    if last_attempt_seconds >= GDI_CHECK_MAX_SECONDS:
        return None
    warning = (
        f"The last authorization outcome attempt comes at {last_attempt_seconds} s, before the "
        f"{GDI_CHECK_MAX_SECONDS} s an NPG GDI check may take"
    )
    if last == 0:
        return f"{warning}: raise AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS above 1"
    minimum_base = (GDI_CHECK_MAX_SECONDS - FIRST_OUTCOME_ATTEMPT_SECONDS) * 2 // (last * max_attempts)
    return f"{warning}: set AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS to at least {minimum_base}"


# --- the effectful step -----------------------------------------------------------------------------


def build_retry_event(
    kind: RetryKind,
    transaction_id: str,
    attempt: int,
    *,
    closure_error_data: ev.ClosureErrorData | None = None,
    gateway_authorization_data: ev.TransactionGatewayAuthorizationData | None = None,
) -> ev.TransactionEvent:
    """The retry event of the §6 table, carrying retryCount = attempt."""
    if kind is RetryKind.CLOSURE:
        data = ev.TransactionClosureRetriedData(retry_count=attempt, closure_error_data=closure_error_data)
        return ev.TransactionClosureRetriedEvent.new(transaction_id, data)
    if kind is RetryKind.REFUND:
        data = ev.TransactionRefundRetriedData(
            retry_count=attempt, transaction_gateway_authorization_data=gateway_authorization_data
        )
        return ev.TransactionRefundRetriedEvent.new(transaction_id, data)
    retried = ev.TransactionRetriedData(retry_count=attempt)
    if kind is RetryKind.NOTIFICATION:
        return ev.TransactionUserReceiptAddRetriedEvent.new(transaction_id, retried)
    return ev.TransactionAuthorizationOutcomeWaitingEvent.new(transaction_id, retried)


def enqueue_retry_event(
    kind: RetryKind,
    state: TransactionState,
    retried_count: int,
    outbox: Outbox,
    tracing_info: Mapping[str, Any],
    *,
    closure_error_data: ev.ClosureErrorData | None = None,
    gateway_authorization_data: ev.TransactionGatewayAuthorizationData | None = None,
    now: datetime | None = None,
) -> ev.TransactionEvent:
    """Schedule the next retry of `kind` for the transaction in `state` (spec §6 steps 1-4).

    Appends the retry event after `state.last_sequence` (ConcurrentAppendError if someone appended
    first), sets the view status of the kind, and puts the QueueEvent on the kind's retry queue with
    visibility base * attempt. Raises NoRetryAttemptsLeft / TooLateRetryAttempt before any effect.
    """
    policy = retry_policy(kind)
    plan = plan_retry(policy, retried_count, state.activated, now or datetime.now(ev.EVENT_ZONE))
    if state.transaction_id is None:
        raise ValueError("cannot retry a transaction without its ACTIVATED event")
    event = build_retry_event(
        kind,
        state.transaction_id,
        plan.attempt,
        closure_error_data=closure_error_data,
        gateway_authorization_data=gateway_authorization_data,
    )
    record_events(state, [event], view_status=policy.view_status)
    outbox.send(policy.queue_key, event.to_json_dict(), tracing_info, plan.visibility_seconds)
    return event
