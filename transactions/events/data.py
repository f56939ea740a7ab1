"""The payloads of the v2 events (spec Part B §3.3), as typed data classes and enums.

Field order is the reference's JSON property order; see `codec` for the presence rules
(`optional`: may be absent, `omit_if_null`: never written as null).
"""

# wire() returns a dataclasses.Field carrying the JSON metadata, like dataclasses.field() itself.
# ruff: noqa: RUF009

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import ClassVar

from transactions.events.codec import Variant, WireObject, wire
from transactions.events.timestamps import parse_zoned_datetime


class TransactionStatus(enum.StrEnum):
    ACTIVATED = "ACTIVATED"
    AUTHORIZATION_REQUESTED = "AUTHORIZATION_REQUESTED"
    AUTHORIZATION_COMPLETED = "AUTHORIZATION_COMPLETED"
    CLOSURE_REQUESTED = "CLOSURE_REQUESTED"
    CLOSED = "CLOSED"
    CLOSURE_ERROR = "CLOSURE_ERROR"
    NOTIFIED_OK = "NOTIFIED_OK"
    NOTIFIED_KO = "NOTIFIED_KO"
    NOTIFICATION_ERROR = "NOTIFICATION_ERROR"
    NOTIFICATION_REQUESTED = "NOTIFICATION_REQUESTED"
    EXPIRED = "EXPIRED"
    REFUNDED = "REFUNDED"
    CANCELED = "CANCELED"
    EXPIRED_NOT_AUTHORIZED = "EXPIRED_NOT_AUTHORIZED"
    UNAUTHORIZED = "UNAUTHORIZED"
    REFUND_ERROR = "REFUND_ERROR"
    REFUND_REQUESTED = "REFUND_REQUESTED"
    CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
    CANCELLATION_EXPIRED = "CANCELLATION_EXPIRED"

    @property
    def is_transient(self) -> bool:
        """The expiration consumer acts only on these (spec §2)."""
        return self in TRANSIENT_STATUSES

    @property
    def is_already_expired(self) -> bool:
        return self in ALREADY_EXPIRED_STATUSES

    @property
    def is_final(self) -> bool:
        """No event changes a transaction in this status any more (spec §3.5, last row)."""
        return self in FINAL_STATUSES


_S = TransactionStatus
TRANSIENT_STATUSES = frozenset(
    {
        _S.ACTIVATED,
        _S.AUTHORIZATION_REQUESTED,
        _S.AUTHORIZATION_COMPLETED,
        _S.CANCELLATION_REQUESTED,
        _S.CLOSURE_REQUESTED,
        _S.CLOSURE_ERROR,
        _S.CLOSED,
        _S.EXPIRED,
        _S.NOTIFIED_KO,
        _S.NOTIFICATION_ERROR,
        _S.NOTIFICATION_REQUESTED,
    }
)
ALREADY_EXPIRED_STATUSES = frozenset({_S.EXPIRED, _S.EXPIRED_NOT_AUTHORIZED, _S.CANCELLATION_EXPIRED})
FINAL_STATUSES = frozenset(
    {_S.NOTIFIED_OK, _S.UNAUTHORIZED, _S.CANCELED, _S.REFUNDED, _S.EXPIRED_NOT_AUTHORIZED, _S.CANCELLATION_EXPIRED}
)


class ClientId(enum.StrEnum):
    CHECKOUT = "CHECKOUT"
    CHECKOUT_CART = "CHECKOUT_CART"
    WISP_REDIRECT = "WISP_REDIRECT"
    IO = "IO"

    @property
    def effective(self) -> ClientId:
        """The client the rest of the platform sees: WISP_REDIRECT transactions are cart transactions."""
        return ClientId.CHECKOUT_CART if self is ClientId.WISP_REDIRECT else self


class PaymentGateway(enum.StrEnum):
    VPOS = "VPOS"
    XPAY = "XPAY"
    NPG = "NPG"
    REDIRECT = "REDIRECT"


class PaymentTypeCode(enum.StrEnum):
    CP = "CP"
    PPAL = "PPAL"
    BPAY = "BPAY"
    MYBK = "MYBK"
    APPL = "APPL"
    GOOG = "GOOG"
    SATY = "SATY"
    RBPB = "RBPB"
    RBPP = "RBPP"
    RBPR = "RBPR"
    RBPS = "RBPS"
    RPIC = "RPIC"
    RICO = "RICO"
    KLRN = "KLRN"
    RFPB = "RFPB"


class NpgOperationResult(enum.StrEnum):
    AUTHORIZED = "AUTHORIZED"
    EXECUTED = "EXECUTED"
    DECLINED = "DECLINED"
    DENIED_BY_RISK = "DENIED_BY_RISK"
    THREEDS_VALIDATED = "THREEDS_VALIDATED"
    THREEDS_FAILED = "THREEDS_FAILED"
    PENDING = "PENDING"
    CANCELED = "CANCELED"
    VOIDED = "VOIDED"
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"


class RedirectOutcome(enum.StrEnum):
    OK = "OK"
    KO = "KO"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    ERROR = "ERROR"


class PgsAuthorizationResult(enum.StrEnum):
    OK = "OK"
    KO = "KO"


class ClosureOutcome(enum.StrEnum):
    """Nodo's closePayment answer (TransactionClosureData.responseOutcome)."""

    OK = "OK"
    KO = "KO"


class ClosureErrorType(enum.StrEnum):
    KO_RESPONSE_RECEIVED = "KO_RESPONSE_RECEIVED"
    COMMUNICATION_ERROR = "COMMUNICATION_ERROR"


class UserReceiptOutcome(enum.StrEnum):
    """Nodo's sendPaymentResult outcome carried by the user-receipt events."""

    OK = "OK"
    KO = "KO"
    NOT_RECEIVED = "NOT_RECEIVED"


class Trigger(enum.StrEnum):
    AUTOMATIC = "AUTOMATIC"
    MANUAL = "MANUAL"


class WalletType(enum.StrEnum):
    CARDS = "CARDS"
    PAYPAL = "PAYPAL"


# --- activation -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Confidential(WireObject):
    """A personal datum as a PDV token (the e-mail address): `{"data": "<token>"}`."""

    data: str = wire()


@dataclass(frozen=True, kw_only=True)
class PaymentTransferInformation(WireObject):
    pa_fiscal_code: str = wire()
    digital_stamp: bool = wire()
    transfer_amount: int = wire()
    transfer_category: str | None = wire()


@dataclass(frozen=True, kw_only=True)
class PaymentNotice(WireObject):
    payment_token: str = wire()
    rpt_id: str = wire()
    description: str | None = wire()
    amount: int = wire()  # euro cents
    payment_context_code: str | None = wire()
    transfer_list: list[PaymentTransferInformation] = wire()
    company_name: str | None = wire()
    creditor_reference_id: str | None = wire(optional=True)
    all_ccp: bool = wire("allCCP")

    @property
    def fiscal_code(self) -> str:
        """The creditor's fiscal code: the first 11 characters of the rptId."""
        return self.rpt_id[:11]

    @property
    def notice_number(self) -> str:
        return self.rpt_id[11:]


@dataclass(frozen=True, kw_only=True)
class TransactionGatewayActivationData(Variant):
    VARIANTS: ClassVar[dict[str, type]] = {}


@dataclass(frozen=True, kw_only=True)
class EmptyTransactionGatewayActivationData(TransactionGatewayActivationData):
    TYPE: ClassVar[str] = "EMPTY"


@dataclass(frozen=True, kw_only=True)
class NpgTransactionGatewayActivationData(TransactionGatewayActivationData):
    TYPE: ClassVar[str] = "NPG"
    order_id: str = wire()
    correlation_id: str = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionActivatedData(WireObject):
    email: Confidential = wire()
    payment_notices: list[PaymentNotice] = wire()
    fault_code: str | None = wire()
    fault_code_string: str | None = wire()
    client_id: ClientId = wire()
    id_cart: str | None = wire(optional=True)
    payment_token_validity_seconds: int = wire()
    transaction_gateway_activation_data: TransactionGatewayActivationData = wire()
    user_id: str | None = wire(optional=True)

    @property
    def notices_amount(self) -> int:
        """Sum of the payment notices, euro cents."""
        return sum(notice.amount for notice in self.payment_notices)


# --- authorization request ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WalletDetails(Variant):
    VARIANTS: ClassVar[dict[str, type]] = {}


@dataclass(frozen=True, kw_only=True)
class CardWalletDetails(WalletDetails):
    TYPE: ClassVar[str] = WalletType.CARDS.value
    bin: str = wire()
    last_four_digits: str = wire()


@dataclass(frozen=True, kw_only=True)
class PaypalWalletDetails(WalletDetails):
    TYPE: ClassVar[str] = WalletType.PAYPAL.value
    masked_email: str = wire()


@dataclass(frozen=True, kw_only=True)
class WalletInfo(WireObject):
    wallet_id: str = wire()
    wallet_details: WalletDetails = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionGatewayAuthorizationRequestedData(Variant):
    VARIANTS: ClassVar[dict[str, type]] = {}


@dataclass(frozen=True, kw_only=True)
class NpgTransactionGatewayAuthorizationRequestedData(TransactionGatewayAuthorizationRequestedData):
    TYPE: ClassVar[str] = "NPG"
    logo: str | None = wire()
    brand: str | None = wire()
    session_id: str = wire()
    confirm_payment_session_id: str | None = wire()
    wallet_info: WalletInfo | None = wire()

    @property
    def get_state_session_id(self) -> str:
        """The session NPG getState is asked about: the confirm-payment session when there is one."""
        return self.confirm_payment_session_id or self.session_id


@dataclass(frozen=True, kw_only=True)
class RedirectTransactionGatewayAuthorizationRequestedData(TransactionGatewayAuthorizationRequestedData):
    TYPE: ClassVar[str] = "REDIRECT"
    logo: str | None = wire()
    transaction_outcome_timeout_millis: int = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionAuthorizationRequestData(WireObject):
    amount: int = wire()  # euro cents, sum of the notices
    fee: int = wire()  # euro cents
    payment_instrument_id: str = wire()
    psp_id: str = wire()
    payment_type_code: PaymentTypeCode = wire()
    broker_name: str | None = wire()
    psp_channel_code: str | None = wire()
    payment_method_name: str = wire()
    psp_business_name: str | None = wire()
    psp_on_us: bool = wire()
    authorization_request_id: str = wire()
    payment_gateway: PaymentGateway = wire()
    payment_method_description: str | None = wire()
    transaction_gateway_authorization_requested_data: TransactionGatewayAuthorizationRequestedData = wire()
    id_bundle: str | None = wire(optional=True)
    is_contextual_onboard: bool | None = wire("isContextualOnboard", optional=True)

    @property
    def total_amount(self) -> int:
        """Amount plus fee, euro cents: what a refund gives back."""
        return self.amount + self.fee


# --- authorization outcome ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TransactionGatewayAuthorizationData(Variant):
    """The gateway's authorization outcome; also carried by refund events."""

    VARIANTS: ClassVar[dict[str, type]] = {}

    @property
    def is_authorized(self) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class NpgTransactionGatewayAuthorizationData(TransactionGatewayAuthorizationData):
    TYPE: ClassVar[str] = "NPG"
    operation_result: NpgOperationResult = wire()
    operation_id: str | None = wire()
    payment_end_to_end_id: str | None = wire()
    error_code: str | None = wire()
    validation_service_id: str | None = wire()

    @property
    def is_authorized(self) -> bool:
        return self.operation_result is NpgOperationResult.EXECUTED


@dataclass(frozen=True, kw_only=True)
class RedirectTransactionGatewayAuthorizationData(TransactionGatewayAuthorizationData):
    TYPE: ClassVar[str] = "REDIRECT"
    outcome: RedirectOutcome = wire()
    error_code: str | None = wire()

    @property
    def is_authorized(self) -> bool:
        return self.outcome is RedirectOutcome.OK


@dataclass(frozen=True, kw_only=True)
class PgsTransactionGatewayAuthorizationData(TransactionGatewayAuthorizationData):
    """Legacy gateway: parsed so old events load, rejected by every handler flow."""

    TYPE: ClassVar[str] = "PGS"
    error_code: str | None = wire()
    authorization_result_dto: PgsAuthorizationResult = wire()

    @property
    def is_authorized(self) -> bool:
        return self.authorization_result_dto is PgsAuthorizationResult.OK


@dataclass(frozen=True, kw_only=True)
class TransactionAuthorizationCompletedData(WireObject):
    authorization_code: str | None = wire(optional=True)
    rrn: str | None = wire(optional=True)
    timestamp_operation: str = wire()  # ISO offset date-time, kept as received
    transaction_gateway_authorization_data: TransactionGatewayAuthorizationData = wire()

    @property
    def operation_time(self) -> datetime:
        return datetime.fromisoformat(self.timestamp_operation)


# --- closure --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TransactionClosureData(WireObject):
    response_outcome: ClosureOutcome = wire()
    was_canceled_by_user: bool | None = wire(optional=True)


# Spring's HttpStatus names where they differ from Python's http.HTTPStatus.
_SPRING_STATUS_NAMES = {
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    416: "REQUESTED_RANGE_NOT_SATISFIABLE",
    422: "UNPROCESSABLE_ENTITY",
}


@dataclass(frozen=True, kw_only=True)
class ClosureErrorData(WireObject):
    http_error_code: str | None = wire()  # HTTP status enum name, e.g. "BAD_REQUEST"
    error_description: str | None = wire()
    error_type: ClosureErrorType | None = wire()

    @classmethod
    def from_response(cls, status_code: int | None, description: str | None) -> ClosureErrorData:
        """KO_RESPONSE_RECEIVED with the status name when Nodo answered, else COMMUNICATION_ERROR."""
        if status_code is None:
            return cls(
                http_error_code=None, error_description=description, error_type=ClosureErrorType.COMMUNICATION_ERROR
            )
        return cls(
            http_error_code=http_status_name(status_code),
            error_description=description,
            error_type=ClosureErrorType.KO_RESPONSE_RECEIVED,
        )

    @property
    def http_status_code(self) -> int | None:
        """The numeric status of `http_error_code`, or None when absent or unknown."""
        if self.http_error_code is None:
            return None
        for code, name in _SPRING_STATUS_NAMES.items():
            if name == self.http_error_code:
                return code
        try:
            return HTTPStatus[self.http_error_code].value
        except KeyError:
            return None


def http_status_name(status_code: int) -> str:
    """The Spring HttpStatus enum name of a status code (e.g. 400 → "BAD_REQUEST")."""
    if status_code in _SPRING_STATUS_NAMES:
        return _SPRING_STATUS_NAMES[status_code]
    try:
        return HTTPStatus(status_code).name
    except ValueError:
        return str(status_code)


@dataclass(frozen=True, kw_only=True)
class TransactionClosureRetriedData(WireObject):
    retry_count: int = wire()
    closure_error_data: ClosureErrorData | None = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionRetriedData(WireObject):
    retry_count: int = wire()


# --- expiration and refund ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TransactionExpiredData(WireObject):
    status_before_expiration: TransactionStatus = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionRefundRequestedData(WireObject):
    status_before_refunded: TransactionStatus = wire()
    gateway_auth_data: TransactionGatewayAuthorizationData | None = wire()
    refund_trigger: Trigger | None = wire(omit_if_null=True)


@dataclass(frozen=True, kw_only=True)
class TransactionRefundErrorData(WireObject):
    status_before_refunded: TransactionStatus = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionRefundRetriedData(WireObject):
    retry_count: int = wire()
    transaction_gateway_authorization_data: TransactionGatewayAuthorizationData | None = wire()


@dataclass(frozen=True, kw_only=True)
class GatewayRefundData(Variant):
    VARIANTS: ClassVar[dict[str, type]] = {}


@dataclass(frozen=True, kw_only=True)
class EmptyGatewayRefundData(GatewayRefundData):
    TYPE: ClassVar[str] = "EMPTY"


@dataclass(frozen=True, kw_only=True)
class NpgGatewayRefundData(GatewayRefundData):
    TYPE: ClassVar[str] = "NPG"
    operation_id: str = wire()


@dataclass(frozen=True, kw_only=True)
class TransactionRefundedData(WireObject):
    status_before_refunded: TransactionStatus = wire()
    gateway_operation_data: GatewayRefundData = wire()


# --- user receipt ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TransactionUserReceiptData(WireObject):
    response_outcome: UserReceiptOutcome | None = wire(omit_if_null=True)
    language: str | None = wire(omit_if_null=True)
    payment_date: str | None = wire(omit_if_null=True)  # ZonedDateTime text, kept as received
    notification_trigger: Trigger | None = wire(omit_if_null=True)

    @property
    def paid_at(self) -> datetime | None:
        """`payment_date` as an aware datetime."""
        return parse_zoned_datetime(self.payment_date) if self.payment_date else None
