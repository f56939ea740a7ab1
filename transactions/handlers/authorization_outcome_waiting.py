"""Authorization outcome waiting (spec Part B §5.8), on queue authorization-outcome-waiting.

Tell the transactions service the authorization outcome it may have missed:
1. only a transaction still waiting for NPG (AUTHORIZATION_REQUESTED through NPG) or one whose
   outcome is stored (AUTHORIZATION_COMPLETED, CLOSURE_REQUESTED) is handled; anything else is a no-op;
2. recover the outcome: NPG getState for the first kind (the payment must be complete), the stored
   AUTHORIZATION_COMPLETED data for the second; then PATCH the transactions service with it (both
   calls come before the decision, which only records the next attempt);
3. blocking failures (NPG 4xx, PATCH 400/401/404, a legacy gateway) end the handling; any other
   failure schedules the next attempt (AUTHORIZATION_OUTCOME_WAITING, retryCount + 1, view
   AUTHORIZATION_REQUESTED). When no attempt is left the transaction is left for expiration, as the
   reference does; here that is logged and counted (statsd `transactions.authorization-outcome.exhausted`).
Nothing is appended on success: the transactions service writes the completion events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dispatcher_site.metrics import statsd_client
from receivers.handlers import QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.auth_outcome_request import (
    InvalidPaymentGateway,
    body_from_completed_authorization,
    body_from_npg_state,
)
from transactions.clients import ClientError, npg
from transactions.clients.transactions_service import patch_auth_request
from transactions.handling import decide_with_reloads, retry_count_of, store_incoming
from transactions.reduction import TransactionState
from transactions.retry import NoRetryAttemptsLeft, RetryKind, enqueue_retry_event

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
OUTCOME_KNOWN_STATUSES = frozenset({S.AUTHORIZATION_COMPLETED, S.CLOSURE_REQUESTED})
EXHAUSTED_METRIC = "transactions.authorization-outcome.exhausted"


class OutcomeNotRecoverable(Exception):
    """Retrying cannot help (a blocking answer or a legacy gateway): the handling ends here."""


@queue_handler(
    "authorization-outcome-waiting",
    accepts=[ev.TransactionAuthorizationOutcomeWaitingEvent.class_name()],
    parse=ev.parse_event,
)
def authorization_outcome_waiting(message: QueueMessage, outbox: Outbox) -> None:
    """Recover the authorization outcome again, after an earlier attempt failed."""
    state = store_incoming(message)
    if not is_waiting_for_outcome_recovery(state):
        logger.info("transaction %s in status %s: no outcome to recover", state.transaction_id, state.status)
        return
    recover_authorization_outcome(state, retry_count_of(message), outbox, message.tracing_info)


def is_waiting_for_outcome_recovery(state: TransactionState) -> bool:
    """The status filter of §5.7 step 3 and §5.8 step 1."""
    if state.status is S.AUTHORIZATION_REQUESTED:
        return state.authorization_request_data.payment_gateway is ev.PaymentGateway.NPG
    return state.status in OUTCOME_KNOWN_STATUSES


def recover_authorization_outcome(
    state: TransactionState, retried_count: int, outbox: Outbox, tracing_info: Mapping[str, Any]
) -> None:
    """PATCH the transactions service with the outcome; schedule a retry when that may work later."""
    try:
        body = outcome_from_npg(state) if state.status is S.AUTHORIZATION_REQUESTED else outcome_from_store(state)
        status = patch_auth_request(state.transaction_id, body)
    except OutcomeNotRecoverable as error:
        logger.warning("transaction %s: authorization outcome not recoverable: %s", state.transaction_id, error)
        return
    except ClientError as error:
        if not error.retryable:
            logger.warning("transaction %s: authorization outcome refused, no retry: %s", state.transaction_id, error)
            return
        logger.warning("transaction %s: authorization outcome not recovered yet: %s", state.transaction_id, error)
        schedule_next_attempt(state, retried_count, outbox, tracing_info)
        return
    logger.info("transaction %s: authorization outcome sent, transaction now %s", state.transaction_id, status)


def outcome_from_npg(state: TransactionState) -> dict[str, Any]:
    """The PATCH body from NPG's getState; NPG 4xx is not recoverable, other failures raise ClientError."""
    request = state.authorization_request_data
    requested = request.transaction_gateway_authorization_requested_data
    activation = state.activation_data.transaction_gateway_activation_data
    if not isinstance(requested, ev.NpgTransactionGatewayAuthorizationRequestedData) or not isinstance(
        activation, ev.NpgTransactionGatewayActivationData
    ):
        raise OutcomeNotRecoverable("an NPG authorization without NPG session or correlation data")
    try:
        payment = npg.get_state(
            requested.get_state_session_id, activation.correlation_id, request.payment_type_code.value, request.psp_id
        )
    except ClientError as error:
        if not error.retryable:
            raise OutcomeNotRecoverable(str(error)) from error
        raise
    return body_from_npg_state(payment.completed_operation())


def outcome_from_store(state: TransactionState) -> dict[str, Any]:
    try:
        return body_from_completed_authorization(state)
    except InvalidPaymentGateway as error:
        raise OutcomeNotRecoverable(str(error)) from error


def schedule_next_attempt(
    state: TransactionState, retried_count: int, outbox: Outbox, tracing_info: Mapping[str, Any]
) -> None:
    """The next AUTHORIZATION_OUTCOME_WAITING, decided on the current state of the transaction."""

    def decide(fresh: TransactionState) -> None:
        if not is_waiting_for_outcome_recovery(fresh):
            logger.info("transaction %s became %s: no further attempt", fresh.transaction_id, fresh.status)
            return
        enqueue_next_attempt(fresh, retried_count, outbox, tracing_info)

    decide_with_reloads(state.transaction_id, outbox, decide)


def enqueue_next_attempt(
    state: TransactionState, retried_count: int, outbox: Outbox, tracing_info: Mapping[str, Any]
) -> None:
    """The retry event and message; when no attempt is left, leave the transaction to expiration."""
    try:
        enqueue_retry_event(RetryKind.AUTHORIZATION_OUTCOME, state, retried_count, outbox, tracing_info)
    except NoRetryAttemptsLeft as exhausted:
        statsd_client().incr(EXHAUSTED_METRIC)
        logger.warning(
            "transaction %s: authorization outcome retries exhausted, left to expiration: %s",
            state.transaction_id,
            exhausted,
        )
