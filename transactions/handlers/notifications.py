"""Notifications (spec Part B §5.5), on queue notifications: mail the user the receipt of a payment.

1. the transaction must be NOTIFICATION_REQUESTED, else PROCESSING_ERROR (no mail);
2. decrypt the e-mail (PDV), build the success or ko mail (§8.3), send it (notifications service);
3. sent: USER_RECEIPT_ADDED with view NOTIFIED_OK / NOTIFIED_KO, and for KO a refund request
   (statusBeforeRefunded NOTIFIED_KO);
4. not sent: ADD_USER_RECEIPT_ERROR with view NOTIFICATION_ERROR, then notification retry 1.

The reference saves the view before appending the event; `record_events` does both in one database
transaction, so that ordering quirk cannot be observed here. The mail goes out once per delivery,
before anything is recorded: when another consumer appends meanwhile, only the recording is redone.
Steps 3 and 4 are each one decision (spec Part A §11): a crash cannot leave a receipt recorded without
its refund request, or an error without its retry and its message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage, queue_handler
from receivers.outbox import Outbox
from transactions import events as ev
from transactions.clients import ClientError
from transactions.clients.notifications_service import send_email
from transactions.clients.pdv import decrypt_email
from transactions.handling import decide_with_reloads, store_incoming
from transactions.receipt_mail import ReceiptMailError, build_receipt_mail
from transactions.reduction import TransactionState
from transactions.refunds import request_refund
from transactions.retry import RetryKind, enqueue_retry_event
from transactions.store import record_events

logger = logging.getLogger(__name__)

S = ev.TransactionStatus
NOTIFIED_STATUS = {ev.UserReceiptOutcome.OK: S.NOTIFIED_OK, ev.UserReceiptOutcome.KO: S.NOTIFIED_KO}


@dataclass(frozen=True)
class MailOutcome:
    """What happened to the receipt mail: `error` is None when the notifications service took it."""

    error: Exception | None = None

    @property
    def sent(self) -> bool:
        return self.error is None


@queue_handler("notifications", accepts=[ev.TransactionUserReceiptRequestedEvent.class_name()], parse=ev.parse_event)
def notifications(message: QueueMessage, outbox: Outbox) -> None:
    """Send the receipt mail of a NOTIFICATION_REQUESTED transaction and record the outcome."""
    state = store_incoming(message)
    require_status(state, is_notification_requested, "NOTIFICATION_REQUESTED")
    mail = send_receipt_mail(state)

    def record(current: TransactionState) -> None:
        if mail.sent:
            require_status(current, is_receipt_pending, "NOTIFICATION_REQUESTED")
            record_receipt_sent(current, outbox, message.tracing_info)
        else:
            require_status(current, is_notification_requested, "NOTIFICATION_REQUESTED")
            record_first_failure(current, outbox, message.tracing_info)

    decide_with_reloads(message.transaction_id, outbox, record)


def is_notification_requested(state: TransactionState) -> bool:
    return state.status is S.NOTIFICATION_REQUESTED


def is_receipt_pending(state: TransactionState) -> bool:
    """NOTIFICATION_REQUESTED; or EXPIRED from it, when expiration overtook the mail just sent
    (USER_RECEIPT_ADDED still applies then, spec §3.5)."""
    return is_notification_requested(state) or _expired_from(state, S.NOTIFICATION_REQUESTED)


def _expired_from(state: TransactionState, status: ev.TransactionStatus) -> bool:
    return state.status is S.EXPIRED and state.previous is not None and state.previous.status is status


def require_status(state: TransactionState, accepts: Callable[[TransactionState], bool], expected: str) -> None:
    if not accepts(state):
        raise HandlerError(
            DeadLetterCategory.PROCESSING_ERROR,
            f"transaction {state.transaction_id} is in status {state.status}, expected {expected}",
        )


def send_receipt_mail(state: TransactionState) -> MailOutcome:
    """Decrypt the address, build the mail and send it; a failure of any of these is returned, not raised."""
    try:
        email = decrypt_email(state.activation_data.email.data)
        mail = build_receipt_mail(state, email)
        send_email(mail.to, mail.subject, mail.language, mail.template_id, mail.parameters)
    except (ClientError, ReceiptMailError) as error:
        logger.warning("transaction %s: receipt mail not sent: %s", state.transaction_id, error)
        return MailOutcome(error)
    logger.info("transaction %s: receipt mail sent (%s)", state.transaction_id, mail.template_id)
    return MailOutcome()


def record_receipt_sent(state: TransactionState, outbox: Outbox, tracing_info: Mapping[str, Any]) -> None:
    """USER_RECEIPT_ADDED with the receipt data, view NOTIFIED_OK/KO; for KO, request the refund."""
    receipt = state.user_receipt_data
    added = ev.TransactionUserReceiptAddedEvent.new(state.transaction_id, receipt)
    record_events(state, [added], view_status=NOTIFIED_STATUS[receipt.response_outcome])
    if receipt.response_outcome is ev.UserReceiptOutcome.KO:
        request_refund(state.apply(added), S.NOTIFIED_KO, outbox, tracing_info)


def record_first_failure(state: TransactionState, outbox: Outbox, tracing_info: Mapping[str, Any]) -> None:
    """ADD_USER_RECEIPT_ERROR with the receipt data and view NOTIFICATION_ERROR, then retry number 1."""
    error = ev.TransactionUserReceiptAddErrorEvent.new(state.transaction_id, state.user_receipt_data)
    record_events(state, [error], view_status=S.NOTIFICATION_ERROR)
    enqueue_retry_event(RetryKind.NOTIFICATION, state.apply(error), 0, outbox, tracing_info)
