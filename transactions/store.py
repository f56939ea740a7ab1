"""The event store and the transaction view: every read and write of transactions goes through here.

Handlers follow one pattern (spec Part A §2):

    state = load_state(transaction_id)            # reduce_events(load_events(transaction_id))
    ...decide...
    record_events(state, [new_event], view_status=TransactionStatus.CLOSED)

`record_events` appends after `state.last_sequence` and updates the view in one database transaction;
it raises `ConcurrentAppendError` when another consumer appended first: reload, reduce and decide
again. (`append_event` and `apply_to_view` are the two halves, for the rare flow that needs them apart.)

Events produced upstream (arriving on a queue or through the API) are stored once with
`store_incoming_event`, which also keeps the view.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from receivers.handlers import RetryLater
from transactions import events as ev
from transactions.events.codec import encode
from transactions.models import Transaction, TransactionEvent
from transactions.reduction import TransactionState, reduce_events
from transactions.tracing import trace_status_change

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INCOMING_APPEND_ATTEMPTS = 5


class ConcurrentAppendError(RetryLater):
    """Another event took the sequence number this append expected: reload and re-decide.

    Handlers re-decide a few times themselves; one that still escapes leaves the message for
    redelivery (spec Part A §2), never a dead letter.
    """


class EventConflictError(ValueError):
    """An event with this id is already stored with different content."""


class EventOrderError(ValueError):
    """An incoming event cannot follow the transaction's stored events."""


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED


# --- reading ----------------------------------------------------------------------------------------


def load_events(transaction_id: str) -> list[ev.TransactionEvent]:
    """The transaction's events in sequence order (empty when unknown)."""
    records = TransactionEvent.objects.filter(transaction_id=transaction_id).order_by("sequence")
    return [record.to_event() for record in records]


def load_state(transaction_id: str) -> TransactionState:
    """`reduce_events(load_events(transaction_id))`; its `last_sequence` is the append's expected sequence."""
    return reduce_events(load_events(transaction_id))


# --- appending --------------------------------------------------------------------------------------


def append_event(transaction_id: str, event: ev.TransactionEvent, expected_sequence: int) -> int:
    """Append `event` after the event numbered `expected_sequence` (0 for a new transaction).

    Returns the new event's sequence number. Raises ConcurrentAppendError when that number is taken.
    """
    return append_events(transaction_id, [event], expected_sequence)


def append_events(transaction_id: str, new_events: Sequence[ev.TransactionEvent], expected_sequence: int) -> int:
    """Append several events at once, all or none (e.g. REFUND_REQUESTED then REFUND_ERROR)."""
    for event in new_events:
        if event.transaction_id != transaction_id:
            raise ValueError(f"event {event.id} belongs to transaction {event.transaction_id}, not {transaction_id}")
    records = [TransactionEvent.from_event(e, expected_sequence + i) for i, e in enumerate(new_events, start=1)]
    try:
        with transaction.atomic():
            if expected_sequence > 0 and not _sequence_exists(transaction_id, expected_sequence):
                raise ValueError(f"transaction {transaction_id} has no event number {expected_sequence}")
            for record in records:
                record.save(force_insert=True)
    except IntegrityError as error:
        ids = [e.id for e in new_events]
        if TransactionEvent.objects.filter(event_id__in=ids).exists():
            raise EventConflictError(f"an event with one of the ids {ids} is already stored") from error
        raise ConcurrentAppendError(
            f"transaction {transaction_id} has events after number {expected_sequence}: reload and decide again"
        ) from error
    return records[-1].sequence


def record_events(
    state: TransactionState,
    new_events: Sequence[ev.TransactionEvent],
    *,
    view_status: ev.TransactionStatus | None = None,
    closure_error_data: ev.ClosureErrorData | _Unchanged | None = UNCHANGED,
    send_payment_result_outcome: ev.UserReceiptOutcome | _Unchanged | None = UNCHANGED,
) -> int:
    """Append `new_events` after the events `state` was reduced from, and update the view for the
    last one (see `apply_to_view` for the view arguments), atomically. Returns the last sequence.

    The events are new (the decision made them, with fresh ids), so a unique-key violation can only be
    a lost race: ConcurrentAppendError, with no savepoint and no extra read. Inside a decision the
    whole decision is then rolled back and taken again on the reloaded state.
    """
    transaction_id = state.transaction_id
    if transaction_id is None:
        raise ValueError("cannot append to a transaction without its ACTIVATED event")
    for event in new_events:
        if event.transaction_id != transaction_id:
            raise ValueError(f"event {event.id} belongs to transaction {event.transaction_id}, not {transaction_id}")
    records = [TransactionEvent.from_event(e, state.last_sequence + i) for i, e in enumerate(new_events, start=1)]
    try:
        with transaction.atomic(savepoint=False):
            TransactionEvent.objects.bulk_create(records)
            apply_to_view(
                new_events[-1],
                status=view_status or state.apply_all(new_events).status,
                closure_error_data=closure_error_data,
                send_payment_result_outcome=send_payment_result_outcome,
            )
    except IntegrityError as error:
        raise ConcurrentAppendError(
            f"transaction {transaction_id} has events after number {state.last_sequence}: reload and decide again"
        ) from error
    trace_status_change(state, new_events, view_status)
    return records[-1].sequence


def _sequence_exists(transaction_id: str, sequence: int) -> bool:
    return TransactionEvent.objects.filter(transaction_id=transaction_id, sequence=sequence).exists()


@dataclass(frozen=True)
class IncomingEventResult:
    """What `store_incoming_event` did: `stored` is False when the same event was already there."""

    event: ev.TransactionEvent
    sequence: int
    stored: bool


def store_incoming_event(event: ev.TransactionEvent) -> IncomingEventResult:
    """Store an event produced elsewhere exactly once, at the end of its transaction, and update the view.

    Idempotent by event id: the same event again is a no-op; the same id with different content raises
    EventConflictError. The first event of a transaction must be ACTIVATED, ACTIVATED cannot come twice,
    and an event may not be older than the last stored one (EventOrderError).
    """
    for _attempt in range(INCOMING_APPEND_ATTEMPTS):
        existing = TransactionEvent.objects.filter(pk=event.id).first()
        if existing is not None:
            return _already_stored(existing, event)
        last = TransactionEvent.objects.filter(transaction_id=event.transaction_id).order_by("-sequence").first()
        check_incoming_order(last, event)
        expected = last.sequence if last else 0
        try:
            with transaction.atomic():
                sequence = append_event(event.transaction_id, event, expected)
                apply_to_view(event)
        except (ConcurrentAppendError, EventConflictError):
            continue  # someone appended meanwhile (maybe this very event): look again
        return IncomingEventResult(event, sequence, stored=True)
    raise ConcurrentAppendError(f"could not append event {event.id} after {INCOMING_APPEND_ATTEMPTS} attempts")


def receive_event(event: ev.TransactionEvent) -> TransactionState:
    """`store_incoming_event` for a queue handler, returning the transaction's state with the event in it.

    One read of the transaction's events when the event is already stored (the usual case for
    expiration and retry messages); otherwise the append and the view update in one transaction.
    Raises EventConflictError and EventOrderError as `store_incoming_event` does.
    """
    for _attempt in range(INCOMING_APPEND_ATTEMPTS):
        records = list(TransactionEvent.objects.filter(transaction_id=event.transaction_id).order_by("sequence"))
        same = next((record for record in records if record.event_id == event.id), None)
        if same is not None:
            _check_same_content(same, event)
            # The incoming event stands for its row: each event is decoded once per message.
            return reduce_events(event if record is same else record.to_event() for record in records)
        stored = [record.to_event() for record in records]
        check_incoming_order(records[-1] if records else None, event)
        state = reduce_events([*stored, event])
        try:
            with transaction.atomic():
                append_event(event.transaction_id, event, len(records))
                apply_to_view(event, status=state.status)
        except ConcurrentAppendError:
            continue  # someone appended meanwhile (maybe this very event): look again
        except EventConflictError:
            elsewhere = TransactionEvent.objects.filter(pk=event.id).exclude(transaction_id=event.transaction_id)
            if elsewhere.exists():
                raise
            continue
        return state
    raise ConcurrentAppendError(f"could not append event {event.id} after {INCOMING_APPEND_ATTEMPTS} attempts")


def _check_same_content(record: TransactionEvent, event: ev.TransactionEvent) -> None:
    """The stored row and the incoming event are the same event (compared as stored: no decoding)."""
    document = event.to_json_dict()
    same = (
        record.event_code == document["eventCode"]
        and record.creation_date == document["creationDate"]
        and record.data == document["data"]
    )
    if not same:
        raise EventConflictError(f"event {event.id} is already stored with different content")


def _already_stored(existing: TransactionEvent, event: ev.TransactionEvent) -> IncomingEventResult:
    if existing.to_json_dict() != event.to_json_dict():
        raise EventConflictError(f"event {event.id} is already stored with different content")
    return IncomingEventResult(event, existing.sequence, stored=False)


def check_incoming_order(last: TransactionEvent | None, event: ev.TransactionEvent) -> None:
    """Raise EventOrderError unless `event` may follow `last` (the transaction's last stored event)."""
    activated = ev.EventCode.TRANSACTION_ACTIVATED_EVENT
    if last is None and event.event_code is not activated:
        raise EventOrderError(f"transaction {event.transaction_id} is unknown: its first event must be {activated}")
    if last is not None and event.event_code is activated:
        raise EventOrderError(f"transaction {event.transaction_id} is already activated")
    if last is not None and event.created_at < last.created_at:
        raise EventOrderError(
            f"creationDate {event.creation_date} is earlier than the last stored event's ({last.creation_date})"
        )


# --- the view ---------------------------------------------------------------------------------------


def apply_to_view(
    event: ev.TransactionEvent,
    *,
    status: ev.TransactionStatus | None = None,
    closure_error_data: ev.ClosureErrorData | _Unchanged | None = UNCHANGED,
    send_payment_result_outcome: ev.UserReceiptOutcome | _Unchanged | None = UNCHANGED,
) -> bool:
    """Update the view after `event` was stored; the ACTIVATED event creates it.

    `status` defaults to the status the stored events reduce to; handlers pass the status the spec
    names. `closure_error_data` and `send_payment_result_outcome` default to what the event implies
    (see `view_changes_for`); pass a value (or None) to set them. Returns False when the transaction
    has no view (the reference skips silently).
    """
    if event.event_code is ev.EventCode.TRANSACTION_ACTIVATED_EVENT:
        _create_view(event)
    changes = view_changes_for(event)
    changes["status"] = (status or load_state(event.transaction_id).status).value
    if closure_error_data is not UNCHANGED:
        changes["closure_error_data"] = encode(closure_error_data)
    if send_payment_result_outcome is not UNCHANGED:
        changes["send_payment_result_outcome"] = (
            send_payment_result_outcome.value if send_payment_result_outcome else ""
        )
    return Transaction.objects.filter(pk=event.transaction_id).update(**changes) == 1


def view_changes_for(event: ev.TransactionEvent) -> dict[str, Any]:
    """The view fields an event implies, besides the status (pure)."""
    changes: dict[str, Any] = {"last_processed_event_at": epoch_milliseconds(event.created_at)}
    code = event.event_code
    codes = ev.EventCode
    if code is codes.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT:
        data: Any = event.data
        changes.update(
            fee_total=data.fee,
            payment_gateway=data.payment_gateway.value,
            payment_type_code=data.payment_type_code.value,
            psp_id=data.psp_id,
        )
    elif code is codes.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT:
        data = event.data
        gateway = data.transaction_gateway_authorization_data
        changes.update(
            rrn=data.rrn or "",
            authorization_code=data.authorization_code or "",
            authorization_error_code=getattr(gateway, "error_code", None) or "",
            gateway_authorization_status=_gateway_status(gateway),
        )
    elif code is codes.TRANSACTION_CLOSURE_ERROR_EVENT:
        changes["closure_error_data"] = encode(event.data)
    elif code is codes.TRANSACTION_CLOSURE_RETRIED_EVENT and event.data.closure_error_data is not None:
        changes["closure_error_data"] = encode(event.data.closure_error_data)
    elif code in (codes.TRANSACTION_CLOSED_EVENT, codes.TRANSACTION_CLOSURE_FAILED_EVENT):
        changes["closure_error_data"] = None
        authorized_closure = code is codes.TRANSACTION_CLOSED_EVENT and not event.data.was_canceled_by_user
        changes["send_payment_result_outcome"] = ev.UserReceiptOutcome.NOT_RECEIVED.value if authorized_closure else ""
    elif code is codes.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT and event.data.response_outcome is not None:
        changes["send_payment_result_outcome"] = event.data.response_outcome.value
    return changes


def _gateway_status(gateway: ev.TransactionGatewayAuthorizationData) -> str:
    for attribute in ("operation_result", "outcome", "authorization_result_dto"):
        value = getattr(gateway, attribute, None)
        if value is not None:
            return value.value
    return ""


def _create_view(event: ev.TransactionActivatedEvent) -> None:
    data = event.data
    if Transaction.objects.filter(pk=event.transaction_id).exists():
        return
    Transaction.objects.create(
        transaction_id=event.transaction_id,
        status=ev.TransactionStatus.ACTIVATED.value,
        client_id=data.client_id.value,
        email_token=data.email.data,
        payment_notices=encode(data.payment_notices),
        payment_tokens="\n".join(notice.payment_token for notice in data.payment_notices),
        rpt_ids="\n".join(notice.rpt_id for notice in data.payment_notices),
        id_cart=data.id_cart or "",
        user_id=data.user_id or "",
        creation_date=event.creation_date,
        created_at=event.created_at,
    )


def epoch_milliseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)
