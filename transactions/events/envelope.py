"""The v2 event envelope (spec Part B §3, §3.1): one class per event code, strict parsing, serialisation.

event = parse_event(message.raw_event)          # EventParsingError naming the field when invalid
event.to_json()                                 # the reference's JSON, byte for byte
TransactionClosureRetriedEvent.new(tx_id, TransactionClosureRetriedData(retry_count=1, ...))
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from transactions.events.codec import decode_object, encode, fail
from transactions.events.data import (
    ClosureErrorData,
    TransactionActivatedData,
    TransactionAuthorizationCompletedData,
    TransactionAuthorizationRequestData,
    TransactionClosureData,
    TransactionClosureRetriedData,
    TransactionExpiredData,
    TransactionRefundedData,
    TransactionRefundErrorData,
    TransactionRefundRequestedData,
    TransactionRefundRetriedData,
    TransactionRetriedData,
    TransactionUserReceiptData,
)
from transactions.events.timestamps import now_zoned_text, parse_zoned_datetime

CLASS_PACKAGE = "it.pagopa.ecommerce.commons.documents.v2"
ENVELOPE_FIELDS = ("_class", "id", "transactionId", "creationDate", "data", "eventCode")
TRANSACTION_ID_PATTERN = re.compile(r"[0-9a-fA-F]{32}")


class EventCode(enum.StrEnum):
    TRANSACTION_ACTIVATED_EVENT = "TRANSACTION_ACTIVATED_EVENT"
    TRANSACTION_AUTHORIZATION_REQUESTED_EVENT = "TRANSACTION_AUTHORIZATION_REQUESTED_EVENT"
    TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT = "TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT"
    TRANSACTION_AUTHORIZATION_COMPLETED_EVENT = "TRANSACTION_AUTHORIZATION_COMPLETED_EVENT"
    TRANSACTION_CLOSURE_REQUESTED_EVENT = "TRANSACTION_CLOSURE_REQUESTED_EVENT"
    TRANSACTION_USER_CANCELED_EVENT = "TRANSACTION_USER_CANCELED_EVENT"
    TRANSACTION_CLOSED_EVENT = "TRANSACTION_CLOSED_EVENT"
    TRANSACTION_CLOSURE_FAILED_EVENT = "TRANSACTION_CLOSURE_FAILED_EVENT"
    TRANSACTION_CLOSURE_ERROR_EVENT = "TRANSACTION_CLOSURE_ERROR_EVENT"
    TRANSACTION_CLOSURE_RETRIED_EVENT = "TRANSACTION_CLOSURE_RETRIED_EVENT"
    TRANSACTION_CLOSURE_SYNTHETIC_EVENT = "TRANSACTION_CLOSURE_SYNTHETIC_EVENT"
    TRANSACTION_USER_RECEIPT_REQUESTED_EVENT = "TRANSACTION_USER_RECEIPT_REQUESTED_EVENT"
    TRANSACTION_USER_RECEIPT_ADDED_EVENT = "TRANSACTION_USER_RECEIPT_ADDED_EVENT"
    TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT = "TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT"
    TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT = "TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT"
    TRANSACTION_EXPIRED_EVENT = "TRANSACTION_EXPIRED_EVENT"
    TRANSACTION_REFUND_REQUESTED_EVENT = "TRANSACTION_REFUND_REQUESTED_EVENT"
    TRANSACTION_REFUND_ERROR_EVENT = "TRANSACTION_REFUND_ERROR_EVENT"
    TRANSACTION_REFUND_RETRIED_EVENT = "TRANSACTION_REFUND_RETRIED_EVENT"
    TRANSACTION_REFUNDED_EVENT = "TRANSACTION_REFUNDED_EVENT"


@dataclass(frozen=True, kw_only=True)
class TransactionEvent:
    """One v2 event. Subclasses fix the event code, the `_class` name and the data type."""

    EVENT_CODE: ClassVar[EventCode]
    DATA_TYPE: ClassVar[type | None]

    id: str
    transaction_id: str
    creation_date: str  # kept exactly as received: the reference orders and compares this text
    data: Any

    @classmethod
    def new(cls, transaction_id: str, data: Any = None) -> Self:
        """A new event of this class: random UUID id, creation date now in Europe/Rome."""
        return cls(id=str(uuid.uuid4()), transaction_id=transaction_id, creation_date=now_zoned_text(), data=data)

    @classmethod
    def class_name(cls) -> str:
        """The `_class` discriminator, e.g. it.pagopa.ecommerce.commons.documents.v2.TransactionClosedEvent."""
        return f"{CLASS_PACKAGE}.{cls.__name__}"

    @property
    def event_code(self) -> EventCode:
        return self.EVENT_CODE

    @property
    def created_at(self) -> datetime:
        """`creation_date` as an aware datetime."""
        return parse_zoned_datetime(self.creation_date)

    def to_json_dict(self) -> dict[str, Any]:
        """The event object of a QueueEvent, in the reference's property order."""
        return {
            "_class": self.class_name(),
            "id": self.id,
            "transactionId": self.transaction_id,
            "creationDate": self.creation_date,
            "data": encode(self.data),
            "eventCode": self.EVENT_CODE.value,
        }

    def to_json(self) -> str:
        """Compact JSON text, as the reference's Jackson writes it."""
        return json.dumps(self.to_json_dict(), separators=(",", ":"), ensure_ascii=False)


def _event_class(code: EventCode, data_type: type | None) -> Any:
    def register(cls: type[TransactionEvent]) -> type[TransactionEvent]:
        cls.EVENT_CODE = code
        cls.DATA_TYPE = data_type
        EVENT_CLASSES_BY_NAME[cls.class_name()] = cls
        EVENT_CLASSES_BY_CODE[code] = cls
        return cls

    return register


EVENT_CLASSES_BY_NAME: dict[str, type[TransactionEvent]] = {}
EVENT_CLASSES_BY_CODE: dict[EventCode, type[TransactionEvent]] = {}


@_event_class(EventCode.TRANSACTION_ACTIVATED_EVENT, TransactionActivatedData)
@dataclass(frozen=True, kw_only=True)
class TransactionActivatedEvent(TransactionEvent):
    data: TransactionActivatedData


@_event_class(EventCode.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, TransactionAuthorizationRequestData)
@dataclass(frozen=True, kw_only=True)
class TransactionAuthorizationRequestedEvent(TransactionEvent):
    data: TransactionAuthorizationRequestData


@_event_class(EventCode.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT, TransactionRetriedData)
@dataclass(frozen=True, kw_only=True)
class TransactionAuthorizationOutcomeWaitingEvent(TransactionEvent):
    data: TransactionRetriedData


@_event_class(EventCode.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, TransactionAuthorizationCompletedData)
@dataclass(frozen=True, kw_only=True)
class TransactionAuthorizationCompletedEvent(TransactionEvent):
    data: TransactionAuthorizationCompletedData


@_event_class(EventCode.TRANSACTION_CLOSURE_REQUESTED_EVENT, None)
@dataclass(frozen=True, kw_only=True)
class TransactionClosureRequestedEvent(TransactionEvent):
    data: None = None


@_event_class(EventCode.TRANSACTION_USER_CANCELED_EVENT, None)
@dataclass(frozen=True, kw_only=True)
class TransactionUserCanceledEvent(TransactionEvent):
    data: None = None


@_event_class(EventCode.TRANSACTION_CLOSED_EVENT, TransactionClosureData)
@dataclass(frozen=True, kw_only=True)
class TransactionClosedEvent(TransactionEvent):
    data: TransactionClosureData


@_event_class(EventCode.TRANSACTION_CLOSURE_FAILED_EVENT, TransactionClosureData)
@dataclass(frozen=True, kw_only=True)
class TransactionClosureFailedEvent(TransactionEvent):
    data: TransactionClosureData


@_event_class(EventCode.TRANSACTION_CLOSURE_ERROR_EVENT, ClosureErrorData)
@dataclass(frozen=True, kw_only=True)
class TransactionClosureErrorEvent(TransactionEvent):
    data: ClosureErrorData


@_event_class(EventCode.TRANSACTION_CLOSURE_RETRIED_EVENT, TransactionClosureRetriedData)
@dataclass(frozen=True, kw_only=True)
class TransactionClosureRetriedEvent(TransactionEvent):
    data: TransactionClosureRetriedData


@_event_class(EventCode.TRANSACTION_CLOSURE_SYNTHETIC_EVENT, TransactionClosureData)
@dataclass(frozen=True, kw_only=True)
class TransactionClosureSyntheticEvent(TransactionEvent):
    data: TransactionClosureData


@_event_class(EventCode.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, TransactionUserReceiptData)
@dataclass(frozen=True, kw_only=True)
class TransactionUserReceiptRequestedEvent(TransactionEvent):
    data: TransactionUserReceiptData


@_event_class(EventCode.TRANSACTION_USER_RECEIPT_ADDED_EVENT, TransactionUserReceiptData)
@dataclass(frozen=True, kw_only=True)
class TransactionUserReceiptAddedEvent(TransactionEvent):
    data: TransactionUserReceiptData


@_event_class(EventCode.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT, TransactionUserReceiptData)
@dataclass(frozen=True, kw_only=True)
class TransactionUserReceiptAddErrorEvent(TransactionEvent):
    data: TransactionUserReceiptData


@_event_class(EventCode.TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT, TransactionRetriedData)
@dataclass(frozen=True, kw_only=True)
class TransactionUserReceiptAddRetriedEvent(TransactionEvent):
    data: TransactionRetriedData


@_event_class(EventCode.TRANSACTION_EXPIRED_EVENT, TransactionExpiredData)
@dataclass(frozen=True, kw_only=True)
class TransactionExpiredEvent(TransactionEvent):
    data: TransactionExpiredData


@_event_class(EventCode.TRANSACTION_REFUND_REQUESTED_EVENT, TransactionRefundRequestedData)
@dataclass(frozen=True, kw_only=True)
class TransactionRefundRequestedEvent(TransactionEvent):
    data: TransactionRefundRequestedData


@_event_class(EventCode.TRANSACTION_REFUND_ERROR_EVENT, TransactionRefundErrorData)
@dataclass(frozen=True, kw_only=True)
class TransactionRefundErrorEvent(TransactionEvent):
    data: TransactionRefundErrorData


@_event_class(EventCode.TRANSACTION_REFUND_RETRIED_EVENT, TransactionRefundRetriedData)
@dataclass(frozen=True, kw_only=True)
class TransactionRefundRetriedEvent(TransactionEvent):
    data: TransactionRefundRetriedData


@_event_class(EventCode.TRANSACTION_REFUNDED_EVENT, TransactionRefundedData)
@dataclass(frozen=True, kw_only=True)
class TransactionRefundedEvent(TransactionEvent):
    data: TransactionRefundedData


# "Closure events" for the already-closed guard of the close-payment handler (spec §3, notes).
CLOSURE_EVENT_CODES = frozenset({EventCode.TRANSACTION_CLOSED_EVENT, EventCode.TRANSACTION_CLOSURE_FAILED_EVENT})


def parse_event(obj: Mapping[str, Any]) -> TransactionEvent:
    """Validate a v2 event object (the `event` of a QueueEvent) strictly and return its typed event.

    Raises `receivers.handlers.EventParsingError` (a HandlerError with category EVENT_PARSING_ERROR)
    whose message starts with the path of the offending field, e.g. `event.data.retryCount: ...`.
    """
    if not isinstance(obj, Mapping):
        fail("event", "expected an object")
    for key in obj:
        if key not in ENVELOPE_FIELDS:
            fail(f"event.{key}", "unknown field")
    for key in ENVELOPE_FIELDS:
        if key not in obj:
            fail(f"event.{key}", "required field missing")
    class_name = obj["_class"]
    cls = EVENT_CLASSES_BY_NAME.get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        fail("event._class", f"{class_name!r} is not a v2 transaction event class")
    if obj["eventCode"] != cls.EVENT_CODE.value:
        fail("event.eventCode", f"{obj['eventCode']!r} does not match _class (expected {cls.EVENT_CODE.value})")
    return cls(
        id=_event_id(obj["id"]),
        transaction_id=_transaction_id(obj["transactionId"]),
        creation_date=_creation_date(obj["creationDate"]),
        data=_event_data(cls, obj["data"]),
    )


def _event_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        fail("event.id", "expected a non-empty string")
    return value


def _transaction_id(value: Any) -> str:
    if not isinstance(value, str) or not TRANSACTION_ID_PATTERN.fullmatch(value):
        fail("event.transactionId", "expected 32 hexadecimal characters (a UUID without dashes)")
    return value


def _creation_date(value: Any) -> str:
    if not isinstance(value, str):
        fail("event.creationDate", "expected a date-time string")
    try:
        parse_zoned_datetime(value)
    except ValueError as error:
        fail("event.creationDate", str(error))
    return value


def _event_data(cls: type[TransactionEvent], value: Any) -> Any:
    if cls.DATA_TYPE is None:
        if value is not None:
            fail("event.data", f"must be null for {cls.EVENT_CODE.value}")
        return None
    if value is None:
        fail("event.data", "must not be null")
    return decode_object(cls.DATA_TYPE, value, "event.data")
