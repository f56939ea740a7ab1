"""Notifications retry (spec Part B §5.6), on queue notifications-retry: mail the receipt again.

1. the transaction must be NOTIFICATION_ERROR, or EXPIRED from NOTIFICATION_ERROR; else PROCESSING_ERROR;
2. send the mail as §5.5; sent: USER_RECEIPT_ADDED, view NOTIFIED_OK/KO, refund request for KO
   (statusBeforeRefunded NOTIFIED_KO);
3. not sent: no new error event; the next retry (retryCount + 1, view NOTIFICATION_ERROR);
4. no attempt left: this message goes to the dead-letter queue as RETRY_EVENT_NO_ATTEMPTS_LEFT and,
   for a KO receipt, the refund is requested anyway (statusBeforeRefunded NOTIFICATION_ERROR); the
   handling itself ends normally.
"""

from __future__ import annotations

import logging

from receivers.handlers import DeadLetterCategory, QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.handlers.notifications import record_receipt_sent, require_status, send_receipt_mail
from transactions.handling import decide_with_reloads, retry_count_of, store_incoming
from transactions.reduction import TransactionState
from transactions.refunds import request_refund
from transactions.retry import NoRetryAttemptsLeft, RetryKind, enqueue_retry_event

logger = logging.getLogger(__name__)

S = ev.TransactionStatus


@queue_handler(
    "notifications-retry",
    accepts=[
        ev.TransactionUserReceiptAddErrorEvent.class_name(),
        ev.TransactionUserReceiptAddRetriedEvent.class_name(),
    ],
    parse=ev.parse_event,
)
def notifications_retry(message: QueueMessage, outbox: Outbox) -> None:
    """Send the receipt mail of a NOTIFICATION_ERROR transaction again, or schedule the next attempt."""
    state = store_incoming(message)
    retried_count = retry_count_of(message)
    require_status(state, is_notification_error, "NOTIFICATION_ERROR (or EXPIRED from it)")
    mail = send_receipt_mail(state)

    def record(current: TransactionState) -> None:
        require_status(current, is_notification_error, "NOTIFICATION_ERROR (or EXPIRED from it)")
        if mail.sent:
            record_receipt_sent(current, outbox, message.tracing_info)
        else:
            retry_or_give_up(current, retried_count, message, outbox)

    decide_with_reloads(message.transaction_id, outbox, record)


def is_notification_error(state: TransactionState) -> bool:
    if state.status is S.EXPIRED and state.previous is not None:
        return state.previous.status is S.NOTIFICATION_ERROR
    return state.status is S.NOTIFICATION_ERROR


def retry_or_give_up(state: TransactionState, retried_count: int, message: QueueMessage, outbox: Outbox) -> None:
    try:
        enqueue_retry_event(RetryKind.NOTIFICATION, state, retried_count, outbox, message.tracing_info)
    except NoRetryAttemptsLeft as exhausted:
        logger.warning("transaction %s: receipt mail given up: %s", state.transaction_id, exhausted)
        outbox.dead_letter_current_message(DeadLetterCategory.RETRY_EVENT_NO_ATTEMPTS_LEFT, str(exhausted))
        receipt = state.user_receipt_data
        if receipt is not None and receipt.response_outcome is ev.UserReceiptOutcome.KO:
            request_refund(state, S.NOTIFICATION_ERROR, outbox, message.tracing_info)
