"""Expiration (spec Part B §5.2): a transaction that did not finish in time, on queue expiration.

1. only transient statuses are handled;
2. CLOSED: wait for Nodo's sendPaymentResult until the first OK closure + SEND_PAYMENT_RESULT_TIMEOUT_SECONDS
   (the message comes back then); with less than the offset left, dead-letter
   SEND_PAYMENT_RESULT_RECEIVING_TIMEOUT and go on;
3. append EXPIRED unless already expired;
4. refund decision: manual check (dead letter REFUND_MANUAL_CHECK_REQUIRED), nothing, or
5. a refund request, postponed for NPG transactions whose authorization outcome is still unknown;
   when the postponement is over, the NPG order is looked up before the decision (`look_up_order`).
Steps 2-5 are one decision: EXPIRED, the refund request, the dead letters and the messages commit
together (spec Part A §11).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings

from receivers.handlers import DeadLetterCategory, QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.handling import decide_with_reloads, store_incoming
from transactions.reduction import TransactionState
from transactions.refundability import is_refundable, is_refundable_check_required
from transactions.refunds import OrderLookup, look_up_order, request_refund
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
QUEUE = "expiration"


@queue_handler(
    QUEUE,
    accepts=[ev.TransactionActivatedEvent.class_name(), ev.TransactionExpiredEvent.class_name()],
    parse=ev.parse_event,
)
def expiration(message: QueueMessage, outbox: Outbox) -> None:
    """Expire the transaction if it has not finished, and refund it when the rules say so."""
    state = store_incoming(message)
    now = datetime.now(ev.EVENT_ZONE)
    lookup = look_up_order(state) if _refund_may_be_due(state, now) else None
    decide_with_reloads(
        message.transaction_id, outbox, lambda fresh: expire(fresh, message, outbox, now, lookup), state=state
    )


def expire(
    state: TransactionState,
    message: QueueMessage,
    outbox: Outbox,
    now: datetime | None = None,
    order_lookup: OrderLookup | None = None,
) -> None:
    now = now or datetime.now(ev.EVENT_ZONE)
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
    _decide_refund(state, message, outbox, now, order_lookup)


def _refund_may_be_due(state: TransactionState, now: datetime) -> bool:
    """Whether step 5 may request a refund now (so an NPG order may have to be looked up first)."""
    return state.status is not None and state.status.is_transient and npg_refund_delay_seconds(state, now) == 0


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


def _decide_refund(
    state: TransactionState, message: QueueMessage, outbox: Outbox, now: datetime, order_lookup: OrderLookup | None
) -> None:
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
    request_refund(state, state.status, outbox, message.tracing_info, order_lookup)


def npg_refund_delay_seconds(state: TransactionState, now: datetime) -> float:
    """Seconds before an NPG transaction with an unknown authorization outcome may be refunded (step 5)."""
    requested = state.authorization_requested
    if state.authorization_completed is not None or requested is None:
        return 0
    if requested.data.payment_gateway is not ev.PaymentGateway.NPG:
        return 0
    minutes = settings.DISPATCHER.NPG_REFUND_DELAY_FROM_AUTH_REQUEST_MINUTES
    return max(0.0, (requested.created_at + timedelta(minutes=minutes) - now).total_seconds())
