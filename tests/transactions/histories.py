"""Event histories leading to each status of the reduction table, by name (fresh events on every call)."""

from collections.abc import Callable

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
from transactions.events import TransactionEvent
from transactions.reduction import reduce_events

History = Callable[[], list[TransactionEvent]]


def _auth(ok: bool) -> list[TransactionEvent]:
    return [activated(), authorization_requested(), authorization_completed(authorized=ok)]


def _closure_requested(ok: bool) -> list[TransactionEvent]:
    return [*_auth(ok), simple(C.TRANSACTION_CLOSURE_REQUESTED_EVENT)]


def _closed(outcome: str = "OK") -> list[TransactionEvent]:
    return [*_closure_requested(True), closed(outcome)]


def _notification_requested(outcome: str = "OK") -> list[TransactionEvent]:
    return [*_closed(), receipt(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, outcome)]


def _notification_error(outcome: str = "OK") -> list[TransactionEvent]:
    return [*_notification_requested(outcome), receipt(C.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT, outcome)]


def _cancellation() -> list[TransactionEvent]:
    return [activated(), simple(C.TRANSACTION_USER_CANCELED_EVENT)]


def _refund_requested() -> list[TransactionEvent]:
    return [*_closed("KO"), simple(C.TRANSACTION_REFUND_REQUESTED_EVENT)]


HISTORIES: dict[str, History] = {
    "empty": lambda: [],
    "activated": lambda: [activated()],
    "authorization requested": lambda: [activated(), authorization_requested()],
    "authorization completed OK": lambda: _auth(True),
    "authorization completed KO": lambda: _auth(False),
    "closure requested OK": lambda: _closure_requested(True),
    "closure requested KO": lambda: _closure_requested(False),
    "cancellation requested": _cancellation,
    "closure error after cancel": lambda: [*_cancellation(), simple(C.TRANSACTION_CLOSURE_ERROR_EVENT)],
    "closure error OK": lambda: [*_closure_requested(True), simple(C.TRANSACTION_CLOSURE_ERROR_EVENT)],
    "closure error KO": lambda: [*_closure_requested(False), simple(C.TRANSACTION_CLOSURE_ERROR_EVENT)],
    "closed OK": _closed,
    "closed KO": lambda: _closed("KO"),
    "closed OK after closure error": lambda: [
        *_closure_requested(True),
        simple(C.TRANSACTION_CLOSURE_ERROR_EVENT),
        closed("OK"),
    ],
    "notification requested OK": _notification_requested,
    "notification requested KO": lambda: _notification_requested("KO"),
    "notification error OK": _notification_error,
    "notification error KO": lambda: _notification_error("KO"),
    "notified KO": lambda: [
        *_notification_requested("KO"),
        receipt(C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, "KO"),
    ],
    "notified OK": lambda: [*_notification_requested("OK"), receipt(C.TRANSACTION_USER_RECEIPT_ADDED_EVENT, "OK")],
    "refund requested": _refund_requested,
    "refund error": lambda: [*_refund_requested(), simple(C.TRANSACTION_REFUND_ERROR_EVENT)],
    "refunded": lambda: [*_refund_requested(), simple(C.TRANSACTION_REFUNDED_EVENT)],
    "unauthorized": lambda: [*_closure_requested(False), simple(C.TRANSACTION_CLOSURE_FAILED_EVENT)],
    "canceled": lambda: [*_cancellation(), closed(canceled=True)],
    "expired not authorized": lambda: [activated(), expired("ACTIVATED")],
    "cancellation expired": lambda: [*_cancellation(), expired("CANCELLATION_REQUESTED")],
}


def expired_after(name: str) -> History:
    """The named history followed by an EXPIRED event."""

    def history() -> list[TransactionEvent]:
        events = HISTORIES[name]()
        return [*events, expired(reduce_events(events).status.value)]

    return history


def history(name: str) -> list[TransactionEvent]:
    if name.startswith("expired after "):
        return expired_after(name.removeprefix("expired after "))()
    return HISTORIES[name]()
