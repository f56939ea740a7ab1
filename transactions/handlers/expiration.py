"""Expiration (spec Part B §5.2): a transaction that did not finish in time, on queue expiration.

1. only transient statuses are handled;
2. CLOSED: wait for Nodo's sendPaymentResult until the first OK closure + SEND_PAYMENT_RESULT_TIMEOUT_SECONDS
   (the message comes back then); with less than the offset left, dead-letter
   SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT and go on;
3. append EXPIRED unless already expired;
4. refund decision: manual check (dead letter REFUND_MANUAL_CHECK_REQUIRED), nothing, or
5. a refund request, postponed for NPG transactions whose authorization outcome is still unknown.

A message that comes back after its EXPIRED event was stored decides steps 4-5 again (the EXPIRED
status is transient); one that comes back after its refund request was stored finishes what
followed it (see `_finish_stored_refund_request`).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings

from receivers.handlers import DeadLetterCategory, HandlerError, Outbox, QueueMessage, queue_handler
from transactions import events as ev
from transactions.handling import decide_with_reloads, events_after_incoming, resend_stored_event, store_incoming
from transactions.reduction import TransactionState
from transactions.refundability import is_refundable, is_refundable_check_required
from transactions.refunds import REFUND_QUEUE, request_refund
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
QUEUE = "expiration"
REFUND_ERROR = ev.EventCode.TRANSACTION_REFUND_ERROR_EVENT


@queue_handler(
    QUEUE,
    accepts=[ev.TransactionActivatedEvent.class_name(), ev.TransactionExpiredEvent.class_name()],
    parse=ev.parse_event,
)
def expiration(message: QueueMessage, outbox: Outbox) -> None:
    """Expire the transaction if it has not finished, and refund it when the rules say so."""
    store_incoming(message)
    decide_with_reloads(message.transaction_id, outbox, lambda state: expire(state, message, outbox))


def expire(state: TransactionState, message: QueueMessage, outbox: Outbox, now: datetime | None = None) -> None:
    now = now or datetime.now(ev.EVENT_ZONE)
    if _finish_stored_refund_request(state, message, outbox):
        return
    if state.status is None or not state.status.is_transient:
        logger.info("transaction %s in status %s: nothing to expire", message.transaction_id, state.status)
        return
    if state.status is S.CLOSED and _waits_for_send_payment_result(state, message, outbox, now):
        return
    if not state.status.is_already_expired:
        event = ev.TransactionExpiredEvent.new(
            state.transaction_id, ev.TransactionExpiredData(status_before_expiration=state.status)
        )
        expired_state = state.apply(event)
        record_events(state, [event], view_status=expired_state.status)
        state = expired_state
    _decide_refund(state, message, outbox, now)


def _finish_stored_refund_request(state: TransactionState, message: QueueMessage, outbox: Outbox) -> bool:
    """True when a refund this expiration requested (statusBeforeRefunded EXPIRED, stored after the
    message's event) is there and what followed it is finished now:

    - still REFUND_REQUESTED: the refund message again (its first send may be lost; the refund
      consumer acts once, in REFUND_REQUESTED only, and NPG refunds carry the Idempotency-Key);
    - REFUND_ERROR right after it and nothing later: the NPG order was already refunded (§5.9.1),
      so the manual-check dead letter again. (A refund consumer that failed and died before its retry
      leaves the same events; the dead letter then asks an operator to look at a refund being retried.)
    """
    requested = state.refund_requested
    if requested is None or requested.data.status_before_refunded is not S.EXPIRED:
        return False
    after = events_after_incoming(state, message) or ()
    later = next((after[index + 1 :] for index, event in enumerate(after) if event.id == requested.id), None)
    if later is None:
        return False
    if state.status is S.REFUND_REQUESTED:
        resend_stored_event(outbox, REFUND_QUEUE, requested, message.tracing_info)
        return True
    if state.status is S.REFUND_ERROR and [event.event_code for event in later] == [REFUND_ERROR]:
        raise HandlerError(
            DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED,
            f"transaction {state.transaction_id}: the NPG order is already refunded (REFUND_ERROR stored)",
        )
    return False


def _waits_for_send_payment_result(
    state: TransactionState, message: QueueMessage, outbox: Outbox, now: datetime
) -> bool:
    """True when the message was put back to wait for sendPaymentResult (step 2)."""
    closed = state.first_successful_closed_event
    if closed is None:
        return False
    config = settings.DISPATCHER
    deadline = closed.created_at + timedelta(seconds=config.SEND_PAYMENT_RESULT_TIMEOUT_SECONDS)
    time_left = (deadline - now).total_seconds()
    if time_left < config.SEND_PAYMENT_RESULT_EXPIRATION_OFFSET_SECONDS:
        outbox.dead_letter_current_message(
            DeadLetterCategory.SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT,
            f"no sendPaymentResult for transaction {state.transaction_id} by {deadline.isoformat()}",
        )
        return False
    outbox.send(QUEUE, message.raw_event, message.tracing_info, math.ceil(time_left))
    return True


def _decide_refund(state: TransactionState, message: QueueMessage, outbox: Outbox, now: datetime) -> None:
    if not is_refundable(state):
        return
    if is_refundable_check_required(state):
        outbox.dead_letter_current_message(
            DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED,
            f"transaction {state.transaction_id} may be authorized but was never closed: check before refunding",
        )
        return
    delay = npg_refund_delay_seconds(state, now)
    if delay > 0:
        visibility = delay + settings.DISPATCHER.NPG_REFUND_EVENT_PROCESSING_DELAY_SECONDS
        outbox.send(QUEUE, message.raw_event, message.tracing_info, math.ceil(visibility))
        return
    request_refund(state, state.status, outbox, message.tracing_info)


def npg_refund_delay_seconds(state: TransactionState, now: datetime) -> float:
    """Seconds before an NPG transaction with an unknown authorization outcome may be refunded (step 5)."""
    requested = state.authorization_requested
    if state.authorization_completed is not None or requested is None:
        return 0
    if requested.data.payment_gateway is not ev.PaymentGateway.NPG:
        return 0
    minutes = settings.DISPATCHER.NPG_REFUND_DELAY_FROM_AUTH_REQUEST_MINUTES
    return max(0.0, (requested.created_at + timedelta(minutes=minutes) - now).total_seconds())
