"""Events for the handler tests, one builder per event, dated close to now when stored.

Each builder returns a typed event built from the reference-shaped JSON of `tests.transactions.factories`;
`payment()` gives the AUTHORIZATION_REQUESTED and AUTHORIZATION_COMPLETED pair of one payment type.
`store_history()` re-dates a history one second apart ending now (the retry engine checks the payment
token deadline against the real clock) and stores it.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from tests.transactions.factories import EVENT_DATA, NPG_AUTHORIZATION, TX, C, make_event, with_changes
from transactions import events as ev
from transactions.reduction import TransactionState
from transactions.store import load_state, store_incoming_event

RPT_ID = EVENT_DATA[C.TRANSACTION_ACTIVATED_EVENT]["paymentNotices"][0]["rptId"]
SECOND_RPT_ID = "77777777777302016723749670036"
OPERATION_ID = NPG_AUTHORIZATION["operationId"]
ORDER_ID = EVENT_DATA[C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT]["authorizationRequestId"]
CORRELATION_ID = EVENT_DATA[C.TRANSACTION_ACTIVATED_EVENT]["transactionGatewayActivationData"]["correlationId"]
PSP_ID = "BCITITMM"
CHANNEL = "00799960158_01"
REDIRECT_TYPE = "RBPB"
TRACING = {
    "traceparent": "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01",
    "tracestate": None,
    "baggage": None,
}

NPG_TYPES = ("CP", "PPAL", "BPAY", "MYBK", "APPL", "GOOG", "SATY")
PAYMENT_METHOD_NAMES = {
    "CP": "CARDS",
    "PPAL": "PAYPAL",
    "BPAY": "BANCOMATPAY",
    "MYBK": "MYBANK",
    "APPL": "APPLEPAY",
    "GOOG": "GOOGLEPAY",
    "SATY": "SATISPAY",
}


def activated(*, client: str = "CHECKOUT", user_id: str | None = None, validity: int = 900, notices: int = 1):
    data = with_changes(C.TRANSACTION_ACTIVATED_EVENT, clientId=client, userId=user_id)
    data["paymentTokenValiditySeconds"] = validity
    if notices == 2:
        second = copy.deepcopy(data["paymentNotices"][0])
        second.update(paymentToken="second-token", rptId=SECOND_RPT_ID, amount=3000)
        data["paymentNotices"].append(second)
    return make_event(C.TRANSACTION_ACTIVATED_EVENT, data)


def authorization_requested(type_code: str = "CP", gateway: str | None = None):
    gateway = gateway or ("REDIRECT" if type_code.startswith("R") or type_code in ("KLRN",) else "NPG")
    data = with_changes(
        C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
        paymentTypeCode=type_code,
        paymentGateway=gateway,
        paymentMethodName=PAYMENT_METHOD_NAMES.get(type_code, "REDIRECT"),
    )
    requested = data["transactionGatewayAuthorizationRequestedData"]
    if gateway == "REDIRECT":
        data["transactionGatewayAuthorizationRequestedData"] = {
            "type": "REDIRECT",
            "logo": "https://assets.example.org/redirect.png",
            "transactionOutcomeTimeoutMillis": 60000,
        }
    elif type_code == "PPAL":
        requested["walletInfo"] = {
            "walletId": requested["walletInfo"]["walletId"],
            "walletDetails": {"type": "PAYPAL", "maskedEmail": "j***@example.org"},
        }
    elif type_code != "CP":
        requested["walletInfo"] = None
    return make_event(C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, data)


def authorization_completed(
    gateway: str = "NPG", *, authorized: bool = True, operation_id: str | None = OPERATION_ID, error_code=None
):
    if gateway == "NPG":
        gateway_data: dict[str, Any] = {
            **NPG_AUTHORIZATION,
            "operationResult": "EXECUTED" if authorized else "DECLINED",
            "operationId": operation_id,
            "errorCode": error_code,
        }
    else:
        gateway_data = {"type": "REDIRECT", "outcome": "OK" if authorized else "KO", "errorCode": error_code}
    data = with_changes(
        C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
        timestampOperation="2023-05-01T21:59:59.500Z",
        transactionGatewayAuthorizationData=gateway_data,
    )
    return make_event(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, data)


def payment(type_code: str = "CP", *, authorized: bool = True, completed: bool = True) -> list[ev.TransactionEvent]:
    requested = authorization_requested(type_code)
    if not completed:
        return [requested]
    return [requested, authorization_completed(requested.data.payment_gateway.value, authorized=authorized)]


def closure_requested():
    return make_event(C.TRANSACTION_CLOSURE_REQUESTED_EVENT)


def user_canceled():
    return make_event(C.TRANSACTION_USER_CANCELED_EVENT)


def closure_error(status: str | None = "INTERNAL_SERVER_ERROR", description: str | None = "Internal Server Error"):
    error_type = "KO_RESPONSE_RECEIVED" if status else "COMMUNICATION_ERROR"
    data = {"httpErrorCode": status, "errorDescription": description, "errorType": error_type}
    return make_event(C.TRANSACTION_CLOSURE_ERROR_EVENT, data)


def closure_retried(retry_count: int = 1):
    return make_event(
        C.TRANSACTION_CLOSURE_RETRIED_EVENT, with_changes(C.TRANSACTION_CLOSURE_RETRIED_EVENT, retryCount=retry_count)
    )


def closed(outcome: str = "OK", canceled: bool = False):
    return make_event(C.TRANSACTION_CLOSED_EVENT, {"responseOutcome": outcome, "wasCanceledByUser": canceled})


def expired(status_before: str):
    return make_event(C.TRANSACTION_EXPIRED_EVENT, {"statusBeforeExpiration": status_before})


def refund_requested(status_before: str = "CLOSED", gateway_auth_data: Any = ...):
    data = {
        "statusBeforeRefunded": status_before,
        "gatewayAuthData": NPG_AUTHORIZATION if gateway_auth_data is ... else gateway_auth_data,
    }
    return make_event(C.TRANSACTION_REFUND_REQUESTED_EVENT, data)


def refund_error(status_before: str = "REFUND_REQUESTED"):
    return make_event(C.TRANSACTION_REFUND_ERROR_EVENT, {"statusBeforeRefunded": status_before})


def refund_retried(retry_count: int = 1, gateway_auth_data: Any = ...):
    data = {
        "retryCount": retry_count,
        "transactionGatewayAuthorizationData": NPG_AUTHORIZATION if gateway_auth_data is ... else gateway_auth_data,
    }
    return make_event(C.TRANSACTION_REFUND_RETRIED_EVENT, data)


def dated(events: list[ev.TransactionEvent], ages: list[float] | None = None) -> list[ev.TransactionEvent]:
    """The events re-dated: `ages` in seconds before now, default one second apart ending now."""
    now = datetime.now(ev.EVENT_ZONE)
    if ages is None:
        ages = [len(events) - index for index in range(len(events))]
    return [
        dataclasses.replace(event, creation_date=ev.zoned_text(now - timedelta(seconds=age)))
        for event, age in zip(events, ages, strict=True)
    ]


def store_history(events: list[ev.TransactionEvent], ages: list[float] | None = None) -> list[ev.TransactionEvent]:
    """Store the events, re-dated (see `dated`); returns the stored events."""
    events = dated(events, ages)
    for event in events:
        store_incoming_event(event)
    return events


def stored_state() -> TransactionState:
    return load_state(TX)


def codes(state: TransactionState | None = None) -> list[str]:
    """The event codes of the stored history, shortened (TRANSACTION_CLOSED_EVENT → CLOSED)."""
    state = state or stored_state()
    return [event.event_code.value.removeprefix("TRANSACTION_").removesuffix("_EVENT") for event in state.events]
