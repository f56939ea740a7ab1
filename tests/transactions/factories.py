"""Reference-shaped v2 event JSON for tests, and typed events built from it.

`EVENT_DATA` holds one realistic `data` object per event code, written in the reference's property
order (spec §3.3). `event_json()` wraps one in the envelope; `make_event()` parses it. Creation dates
advance one second per event so that sequences are in time order.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from transactions.events import EVENT_CLASSES_BY_CODE, EventCode, TransactionEvent, parse_event

TX = "bdb92a6577fb4aab9bba2ebb80cd8310"
ROME = ZoneInfo("Europe/Rome")
START = datetime(2023, 9, 25, 14, 44, 31, 177776, tzinfo=ROME)
_ticks = itertools.count()

NPG_AUTHORIZATION = {
    "type": "NPG",
    "operationResult": "EXECUTED",
    "operationId": "01234567890123456789",
    "paymentEndToEndId": "e2e-0123",
    "errorCode": None,
    "validationServiceId": "3DS",
}
REDIRECT_AUTHORIZATION = {"type": "REDIRECT", "outcome": "OK", "errorCode": None}
CLOSURE_ERROR = {
    "httpErrorCode": "INTERNAL_SERVER_ERROR",
    "errorDescription": "Internal Server Error",
    "errorType": "KO_RESPONSE_RECEIVED",
}

EVENT_DATA: dict[EventCode, Any] = {
    EventCode.TRANSACTION_ACTIVATED_EVENT: {
        "email": {"data": "5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f"},
        "paymentNotices": [
            {
                "paymentToken": "0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d",
                "rptId": "77777777777302016723749670035",
                "description": "TARI 2023",
                "amount": 12000,
                "paymentContextCode": None,
                "transferList": [
                    {
                        "paFiscalCode": "77777777777",
                        "digitalStamp": False,
                        "transferAmount": 12000,
                        "transferCategory": "0101101IM",
                    }
                ],
                "companyName": "Comune di Roma",
                "creditorReferenceId": "02016723749670035",
                "allCCP": False,
            }
        ],
        "faultCode": None,
        "faultCodeString": None,
        "clientId": "CHECKOUT",
        "idCart": None,
        "paymentTokenValiditySeconds": 900,
        "transactionGatewayActivationData": {
            "type": "NPG",
            "orderId": "E1695646270817bLhU",
            "correlationId": "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
        },
        "userId": None,
    },
    EventCode.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT: {
        "amount": 12000,
        "fee": 150,
        "paymentInstrumentId": "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
        "pspId": "BCITITMM",
        "paymentTypeCode": "CP",
        "brokerName": "00799960158",
        "pspChannelCode": "00799960158_01",
        "paymentMethodName": "CARDS",
        "pspBusinessName": "Intesa Sanpaolo",
        "pspOnUs": False,
        "authorizationRequestId": "E1695646270817bLhU",
        "paymentGateway": "NPG",
        "paymentMethodDescription": "Carte di credito",
        "transactionGatewayAuthorizationRequestedData": {
            "type": "NPG",
            "logo": "https://assets.cdn.platform.pagopa.it/creditcard/visa.png",
            "brand": "VISA",
            "sessionId": "session-1",
            "confirmPaymentSessionId": "confirm-session-1",
            "walletInfo": {
                "walletId": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                "walletDetails": {"type": "CARDS", "bin": "401200", "lastFourDigits": "0026"},
            },
        },
        "idBundle": "bundle-1",
        "isContextualOnboard": False,
    },
    EventCode.TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT: {"retryCount": 1},
    EventCode.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT: {
        "authorizationCode": "123456",
        "rrn": "231234567890",
        "timestampOperation": "2023-09-25T14:45:00.123+02:00",
        "transactionGatewayAuthorizationData": NPG_AUTHORIZATION,
    },
    EventCode.TRANSACTION_CLOSURE_REQUESTED_EVENT: None,
    EventCode.TRANSACTION_USER_CANCELED_EVENT: None,
    EventCode.TRANSACTION_CLOSED_EVENT: {"responseOutcome": "OK", "wasCanceledByUser": False},
    EventCode.TRANSACTION_CLOSURE_FAILED_EVENT: {"responseOutcome": "OK", "wasCanceledByUser": False},
    EventCode.TRANSACTION_CLOSURE_ERROR_EVENT: CLOSURE_ERROR,
    EventCode.TRANSACTION_CLOSURE_RETRIED_EVENT: {"retryCount": 1, "closureErrorData": CLOSURE_ERROR},
    EventCode.TRANSACTION_CLOSURE_SYNTHETIC_EVENT: {"responseOutcome": "OK", "wasCanceledByUser": False},
    EventCode.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT: {
        "responseOutcome": "OK",
        "language": "it-IT",
        "paymentDate": "2023-09-25T14:46:10.000+02:00[Europe/Rome]",
    },
    EventCode.TRANSACTION_USER_RECEIPT_ADDED_EVENT: {
        "responseOutcome": "OK",
        "language": "it-IT",
        "paymentDate": "2023-09-25T14:46:10.000+02:00[Europe/Rome]",
    },
    EventCode.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT: {
        "responseOutcome": "OK",
        "language": "it-IT",
        "paymentDate": "2023-09-25T14:46:10.000+02:00[Europe/Rome]",
    },
    EventCode.TRANSACTION_ADD_USER_RECEIPT_RETRY_EVENT: {"retryCount": 1},
    EventCode.TRANSACTION_EXPIRED_EVENT: {"statusBeforeExpiration": "AUTHORIZATION_REQUESTED"},
    EventCode.TRANSACTION_REFUND_REQUESTED_EVENT: {
        "statusBeforeRefunded": "CLOSED",
        "gatewayAuthData": NPG_AUTHORIZATION,
    },
    EventCode.TRANSACTION_REFUND_ERROR_EVENT: {"statusBeforeRefunded": "REFUND_REQUESTED"},
    EventCode.TRANSACTION_REFUND_RETRIED_EVENT: {
        "retryCount": 1,
        "transactionGatewayAuthorizationData": NPG_AUTHORIZATION,
    },
    EventCode.TRANSACTION_REFUNDED_EVENT: {
        "statusBeforeRefunded": "REFUND_REQUESTED",
        "gatewayOperationData": {"type": "NPG", "operationId": "refund-operation-1"},
    },
}


def next_creation_date() -> str:
    moment = START + timedelta(seconds=next(_ticks))
    return f"{moment.isoformat()}[Europe/Rome]"


def event_json(
    code: EventCode,
    data: Any = ...,
    *,
    transaction_id: str = TX,
    event_id: str | None = None,
    creation_date: str | None = None,
) -> dict[str, Any]:
    """A v2 event object in the reference's property order; `data` defaults to EVENT_DATA[code]."""
    return {
        "_class": EVENT_CLASSES_BY_CODE[code].class_name(),
        "id": event_id or str(uuid.uuid4()),
        "transactionId": transaction_id,
        "creationDate": creation_date or next_creation_date(),
        "data": copy.deepcopy(EVENT_DATA[code]) if data is ... else data,
        "eventCode": code.value,
    }


def make_event(code: EventCode, data: Any = ..., **kwargs: Any) -> TransactionEvent:
    return parse_event(event_json(code, data, **kwargs))


def with_changes(code: EventCode, **changes: Any) -> dict[str, Any]:
    """EVENT_DATA[code] with some top-level properties replaced (order kept)."""
    data = copy.deepcopy(EVENT_DATA[code])
    data.update(changes)
    return data


# Shorthands for the reduction and refundability tables -----------------------------------------------

C = EventCode


def activated(**changes: Any) -> TransactionEvent:
    return make_event(C.TRANSACTION_ACTIVATED_EVENT, with_changes(C.TRANSACTION_ACTIVATED_EVENT, **changes))


def authorization_requested(gateway: str = "NPG") -> TransactionEvent:
    data = with_changes(C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, paymentGateway=gateway)
    if gateway == "REDIRECT":
        data["transactionGatewayAuthorizationRequestedData"] = {
            "type": "REDIRECT",
            "logo": "https://example.org/logo.png",
            "transactionOutcomeTimeoutMillis": 60000,
        }
    return make_event(C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, data)


def authorization_completed(authorized: bool = True, gateway: str = "NPG") -> TransactionEvent:
    if gateway == "NPG":
        gateway_data = {**NPG_AUTHORIZATION, "operationResult": "EXECUTED" if authorized else "DECLINED"}
    else:
        gateway_data = {**REDIRECT_AUTHORIZATION, "outcome": "OK" if authorized else "KO"}
    data = with_changes(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, transactionGatewayAuthorizationData=gateway_data)
    return make_event(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, data)


def simple(code: EventCode, **changes: Any) -> TransactionEvent:
    data = with_changes(code, **changes) if changes else ...
    return make_event(code, data)


def closed(outcome: str = "OK", canceled: bool = False) -> TransactionEvent:
    return simple(C.TRANSACTION_CLOSED_EVENT, responseOutcome=outcome, wasCanceledByUser=canceled)


def receipt(code: EventCode, outcome: str = "OK") -> TransactionEvent:
    return simple(code, responseOutcome=outcome)


def expired(status_before: str) -> TransactionEvent:
    return simple(C.TRANSACTION_EXPIRED_EVENT, statusBeforeExpiration=status_before)
