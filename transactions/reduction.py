"""The transaction aggregate: fold the event history into a `TransactionState` (spec Part B §3.5).

`reduce_events(events)` is a pure function of the events (oldest first). An event the table does not
list for the current status is ignored: the state is unchanged apart from the event being counted in
`events`. CLOSURE_ERROR, EXPIRED and the refund statuses remember the state they came from in
`previous`, as the reference's wrapper aggregates do; every other transition clears it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from transactions.events import (
    CLOSURE_EVENT_CODES,
    ClosureOutcome,
    EventCode,
    TransactionActivatedData,
    TransactionActivatedEvent,
    TransactionAuthorizationCompletedData,
    TransactionAuthorizationCompletedEvent,
    TransactionAuthorizationRequestData,
    TransactionAuthorizationRequestedEvent,
    TransactionClosureData,
    TransactionClosureErrorEvent,
    TransactionEvent,
    TransactionExpiredEvent,
    TransactionGatewayAuthorizationData,
    TransactionStatus,
    TransactionUserReceiptData,
    UserReceiptOutcome,
)

S = TransactionStatus
E = EventCode


@dataclass(frozen=True)
class TransactionState:
    """What the events say about one transaction. `status` is None before the ACTIVATED event."""

    status: TransactionStatus | None = None
    events: tuple[TransactionEvent, ...] = ()
    activated: TransactionActivatedEvent | None = None
    authorization_requested: TransactionAuthorizationRequestedEvent | None = None
    authorization_completed: TransactionAuthorizationCompletedEvent | None = None
    cancellation_requested: TransactionEvent | None = None  # the USER_CANCELED event
    closure_requested: TransactionEvent | None = None
    closure_error: TransactionClosureErrorEvent | None = None
    closure: TransactionEvent | None = None  # the CLOSED, CLOSURE_FAILED or CLOSURE_SYNTHETIC event applied
    user_receipt: TransactionEvent | None = None  # latest applied USER_RECEIPT_REQUESTED/ADDED/ADD_ERROR
    expired: TransactionExpiredEvent | None = None
    refund_requested: TransactionEvent | None = None
    refund_event: TransactionEvent | None = None  # latest applied REFUND_ERROR, REFUND_RETRIED or REFUNDED
    refund_event_gateway_data: TransactionGatewayAuthorizationData | None = None
    previous: TransactionState | None = None

    # --- identity and sequence ---------------------------------------------------------------------

    @property
    def transaction_id(self) -> str | None:
        return self.activated.transaction_id if self.activated else None

    @property
    def last_sequence(self) -> int:
        """The sequence number of the last event folded: pass it as `expected_sequence` when appending."""
        return len(self.events)

    @property
    def has_closure_event(self) -> bool:
        """True when any CLOSED or CLOSURE_FAILED event exists, applied or not (the already-closed guard)."""
        return any(event.event_code in CLOSURE_EVENT_CODES for event in self.events)

    @property
    def first_successful_closed_event(self) -> TransactionEvent | None:
        """The first CLOSED event whose Nodo outcome is OK (the sendPaymentResult wait starts there)."""
        for event in self.events:
            if event.event_code is E.TRANSACTION_CLOSED_EVENT and event.data.response_outcome is ClosureOutcome.OK:
                return event
        return None

    @property
    def is_refund_requested(self) -> bool:
        """REFUND_REQUESTED, REFUND_ERROR or REFUNDED: a refund was already asked for."""
        return self.status in (S.REFUND_REQUESTED, S.REFUND_ERROR, S.REFUNDED)

    # --- data of the events ------------------------------------------------------------------------

    @property
    def activation_data(self) -> TransactionActivatedData | None:
        return self.activated.data if self.activated else None

    @property
    def authorization_request_data(self) -> TransactionAuthorizationRequestData | None:
        return self.authorization_requested.data if self.authorization_requested else None

    @property
    def authorization_completed_data(self) -> TransactionAuthorizationCompletedData | None:
        return self.authorization_completed.data if self.authorization_completed else None

    @property
    def closure_data(self) -> TransactionClosureData | None:
        return self.closure.data if self.closure else None

    @property
    def user_receipt_data(self) -> TransactionUserReceiptData | None:
        return self.user_receipt.data if self.user_receipt else None

    @property
    def was_authorization_requested(self) -> bool:
        return self.authorization_requested is not None

    @property
    def is_authorized(self) -> bool:
        """NPG operationResult EXECUTED or REDIRECT outcome OK."""
        data = self.authorization_completed_data
        return data is not None and data.transaction_gateway_authorization_data.is_authorized

    @property
    def is_authorization_outcome_ko(self) -> bool:
        """An authorization outcome is known and it is not a success ("denied")."""
        data = self.authorization_completed_data
        return data is not None and not data.transaction_gateway_authorization_data.is_authorized

    @property
    def is_cancellation(self) -> bool:
        """CANCELLATION_REQUESTED, or a CLOSURE_ERROR that followed a user cancellation."""
        if self.status is S.CLOSURE_ERROR and self.previous is not None:
            return self.previous.is_cancellation
        return self.status is S.CANCELLATION_REQUESTED

    @property
    def is_closure_requested(self) -> bool:
        """CLOSURE_REQUESTED, or a CLOSURE_ERROR that followed a closure request."""
        if self.status is S.CLOSURE_ERROR and self.previous is not None:
            return self.previous.is_closure_requested
        return self.status is S.CLOSURE_REQUESTED

    @property
    def unwrapped(self) -> TransactionState:
        """The state under EXPIRED and CLOSURE_ERROR wrappers (spec §4, manual check)."""
        state = self
        while state.status in (S.EXPIRED, S.CLOSURE_ERROR) and state.previous is not None:
            state = state.previous
        return state

    @property
    def refund_gateway_authorization_data(self) -> TransactionGatewayAuthorizationData | None:
        """The authorization to refund: the completed authorization's gateway data when there is one,
        else what the latest REFUND_REQUESTED/REFUND_RETRIED event carried (None: ask NPG GET order)."""
        if self.authorization_completed_data is not None:
            return self.authorization_completed_data.transaction_gateway_authorization_data
        return self.refund_event_gateway_data

    def apply(self, event: TransactionEvent) -> TransactionState:
        """This state after `event` (spec §3.5)."""
        counted = dataclasses.replace(self, events=(*self.events, event))
        transition = _TRANSITIONS.get((self.status, event.event_code))
        if transition is None:
            return counted
        return transition(counted, event) or counted

    def apply_all(self, events: Iterable[TransactionEvent]) -> TransactionState:
        """This state after `events`, oldest first."""
        state = self
        for event in events:
            state = state.apply(event)
        return state


def reduce_events(events: Iterable[TransactionEvent]) -> TransactionState:
    """Fold events, oldest first, over the empty state."""
    return TransactionState().apply_all(events)


# --- transitions ------------------------------------------------------------------------------------

Transition = Callable[[TransactionState, TransactionEvent], "TransactionState | None"]
_TRANSITIONS: dict[tuple[TransactionStatus | None, EventCode], Transition] = {}


def _on(statuses: Iterable[TransactionStatus | None], codes: Iterable[EventCode]) -> Callable[[Transition], Transition]:
    def register(transition: Transition) -> Transition:
        for status in statuses:
            for code in codes:
                _TRANSITIONS[(status, code)] = transition
        return transition

    return register


def _move(state: TransactionState, status: TransactionStatus, **changes) -> TransactionState:
    changes.setdefault("previous", None)
    return dataclasses.replace(state, status=status, **changes)


@_on([None], [E.TRANSACTION_ACTIVATED_EVENT])
def _activated(state, event):
    return _move(state, S.ACTIVATED, activated=event)


@_on([S.ACTIVATED], [E.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT])
def _authorization_requested(state, event):
    return _move(state, S.AUTHORIZATION_REQUESTED, authorization_requested=event)


@_on([S.ACTIVATED], [E.TRANSACTION_USER_CANCELED_EVENT])
def _user_canceled(state, event):
    return _move(state, S.CANCELLATION_REQUESTED, cancellation_requested=event)


@_on([S.AUTHORIZATION_REQUESTED], [E.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT])
def _authorization_completed(state, event):
    return _move(state, S.AUTHORIZATION_COMPLETED, authorization_completed=event)


@_on([S.AUTHORIZATION_COMPLETED], [E.TRANSACTION_CLOSURE_REQUESTED_EVENT])
def _closure_requested(state, event):
    return _move(state, S.CLOSURE_REQUESTED, closure_requested=event)


@_on([S.CLOSURE_REQUESTED, S.CANCELLATION_REQUESTED], [E.TRANSACTION_CLOSURE_ERROR_EVENT])
def _closure_error(state, event):
    return _move(state, S.CLOSURE_ERROR, closure_error=event, previous=state)


@_on([S.CLOSURE_REQUESTED, S.CLOSURE_ERROR], [E.TRANSACTION_CLOSED_EVENT, E.TRANSACTION_CLOSURE_SYNTHETIC_EVENT])
def _closed(state, event):
    if state.is_cancellation:
        return _closed_after_cancellation(state, event) if event.event_code is E.TRANSACTION_CLOSED_EVENT else None
    if state.is_closure_requested and state.is_authorized:
        return _move(state, S.CLOSED, closure=event)
    return None


@_on([S.CANCELLATION_REQUESTED], [E.TRANSACTION_CLOSED_EVENT])
def _closed_after_cancellation(state, event):
    return _move(state, S.CANCELED, closure=event)


@_on([S.CLOSURE_REQUESTED, S.CLOSURE_ERROR], [E.TRANSACTION_CLOSURE_FAILED_EVENT])
def _closure_failed(state, event):
    if state.is_closure_requested and not state.is_authorized:
        return _move(state, S.UNAUTHORIZED, closure=event)
    return None


@_on([S.ACTIVATED], [E.TRANSACTION_EXPIRED_EVENT])
def _expired_not_authorized(state, event):
    return _move(state, S.EXPIRED_NOT_AUTHORIZED, expired=event, previous=state)


@_on(
    [
        S.AUTHORIZATION_REQUESTED,
        S.AUTHORIZATION_COMPLETED,
        S.CLOSURE_REQUESTED,
        S.CANCELLATION_REQUESTED,
        S.CLOSURE_ERROR,
        S.CLOSED,
        S.NOTIFICATION_REQUESTED,
        S.NOTIFICATION_ERROR,
        S.NOTIFIED_KO,
    ],
    [E.TRANSACTION_EXPIRED_EVENT],
)
def _expired(state, event):
    status = S.CANCELLATION_EXPIRED if state.is_cancellation else S.EXPIRED
    return _move(state, status, expired=event, previous=state)


@_on(
    [S.CLOSURE_ERROR, S.CLOSED, S.NOTIFIED_KO, S.NOTIFICATION_ERROR, S.EXPIRED], [E.TRANSACTION_REFUND_REQUESTED_EVENT]
)
def _refund_requested(state, event):
    if state.status is S.CLOSURE_ERROR and not state.is_closure_requested:
        return None
    if state.status is S.NOTIFICATION_ERROR and not _receipt_outcome_is_ko(state):
        return None
    # From EXPIRED the refund remembers the state before expiration (the reference's wrapper does).
    before = state.previous if state.status is S.EXPIRED else state
    return _move(
        state,
        S.REFUND_REQUESTED,
        refund_requested=event,
        refund_event_gateway_data=event.data.gateway_auth_data,
        previous=before,
    )


@_on([S.CLOSED], [E.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT])
def _user_receipt_requested(state, event):
    return _move(state, S.NOTIFICATION_REQUESTED, user_receipt=event)


@_on([S.NOTIFICATION_REQUESTED, S.NOTIFICATION_ERROR], [E.TRANSACTION_USER_RECEIPT_ADDED_EVENT])
def _user_receipt_added(state, event):
    ok = event.data.response_outcome is UserReceiptOutcome.OK
    return _move(state, S.NOTIFIED_OK if ok else S.NOTIFIED_KO, user_receipt=event)


@_on([S.NOTIFICATION_REQUESTED], [E.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT])
def _user_receipt_error(state, event):
    return _move(state, S.NOTIFICATION_ERROR, user_receipt=event)


@_on([S.EXPIRED], [E.TRANSACTION_CLOSURE_SYNTHETIC_EVENT])
def _synthetic_closure_after_expiration(state, event):
    before = state.previous
    if before is not None and before.is_closure_requested and before.is_authorized:
        return _move(state, S.CLOSED, closure=event)
    return None


@_on([S.EXPIRED], [E.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT])
def _user_receipt_requested_after_expiration(state, event):
    if state.previous is not None and state.previous.status is S.CLOSED:
        return _move(state, S.NOTIFICATION_REQUESTED, user_receipt=event)
    return None


@_on([S.EXPIRED], [E.TRANSACTION_USER_RECEIPT_ADDED_EVENT])
def _user_receipt_added_after_expiration(state, event):
    before = state.previous
    if before is not None and before.status in (S.NOTIFICATION_REQUESTED, S.NOTIFICATION_ERROR):
        return _user_receipt_added(state, event)
    return None


@_on([S.REFUND_REQUESTED, S.REFUND_ERROR], [E.TRANSACTION_REFUNDED_EVENT])
def _refunded(state, event):
    return _move(state, S.REFUNDED, refund_event=event, previous=state.previous)


@_on([S.REFUND_REQUESTED], [E.TRANSACTION_REFUND_ERROR_EVENT])
def _refund_error(state, event):
    return _move(state, S.REFUND_ERROR, refund_event=event, previous=state.previous)


@_on([S.REFUND_ERROR], [E.TRANSACTION_REFUND_RETRIED_EVENT])
def _refund_retried(state, event):
    return _move(
        state,
        S.REFUND_ERROR,
        refund_event=event,
        refund_event_gateway_data=event.data.transaction_gateway_authorization_data,
        previous=state.previous,
    )


def _receipt_outcome_is_ko(state: TransactionState) -> bool:
    data = state.user_receipt_data
    return data is not None and data.response_outcome is UserReceiptOutcome.KO
