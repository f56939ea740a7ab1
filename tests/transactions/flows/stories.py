"""Event histories of one payment, dated relative to now, for the flow tests.

`story(until=...)` returns the events of a transaction up to a named step, with every payload
detail adjustable (payment type code, gateway, receipt outcome, client, user, gateway data). The
activation is `created_seconds_ago` old and each later event one second younger, so payment tokens
are valid and authorization-requested thresholds can be placed in the past or the future.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from tests.transactions.factories import EVENT_DATA, NPG_AUTHORIZATION, REDIRECT_AUTHORIZATION, event_json
from transactions import events as ev
from transactions.events import EventCode as C

STEPS = (
    "activated",
    "authorization requested",
    "authorization completed",
    "closure requested",
    "closed",
    "notification requested",
    "notification error",
    "expired",
)
REDIRECT_REQUESTED_DATA = {
    "type": "REDIRECT",
    "logo": "https://assets.example.org/redirect.png",
    "transactionOutcomeTimeoutMillis": 60000,
}
TRACING_INFO = {"traceparent": "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"}


def zoned(moment: datetime) -> str:
    return ev.zoned_text(moment)


def story(
    until: str = "notification requested",
    *,
    transaction_id: str = "c0ffee0000000000000000000000c0de",
    created_seconds_ago: float = 60,
    created_at: datetime | None = None,
    type_code: str = "CP",
    gateway: str = "NPG",
    client_id: str = "CHECKOUT",
    user_id: str | None = None,
    wallet: bool = True,
    authorized: bool = True,
    receipt_outcome: str = "OK",
    language: str = "it-IT",
    payment_date: str = "2023-09-25T14:46:10.000+02:00[Europe/Rome]",
    activation_changes: dict[str, Any] | None = None,
    requested_changes: dict[str, Any] | None = None,
    completed_changes: dict[str, Any] | None = None,
    gateway_changes: dict[str, Any] | None = None,
    expired_from: str | None = None,
) -> list[ev.TransactionEvent]:
    """The events of one transaction up to and including the step `until` (see STEPS)."""
    start = created_at or datetime.now(ev.EVENT_ZONE) - timedelta(seconds=created_seconds_ago)
    steps = STEPS[: STEPS.index(until) + 1]
    if until == "expired":
        steps = (*STEPS[: STEPS.index(expired_from or "notification error") + 1], "expired")
    receipt = {"responseOutcome": receipt_outcome, "language": language, "paymentDate": payment_date}
    payloads = {
        "activated": (C.TRANSACTION_ACTIVATED_EVENT, _activation(client_id, user_id, activation_changes)),
        "authorization requested": (
            C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT,
            _requested(type_code, gateway, wallet, requested_changes),
        ),
        "authorization completed": (
            C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
            _completed(gateway, authorized, completed_changes, gateway_changes),
        ),
        "closure requested": (C.TRANSACTION_CLOSURE_REQUESTED_EVENT, None),
        "closed": (C.TRANSACTION_CLOSED_EVENT, {"responseOutcome": "OK", "wasCanceledByUser": False}),
        "notification requested": (C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, receipt),
        "notification error": (C.TRANSACTION_ADD_USER_RECEIPT_ERROR_EVENT, receipt),
        "expired": (C.TRANSACTION_EXPIRED_EVENT, None),
    }
    events: list[ev.TransactionEvent] = []
    for index, step in enumerate(steps):
        code, data = payloads[step]
        if step == "expired":
            data = {"statusBeforeExpiration": _status_of(events)}
        moment = start + timedelta(seconds=index)
        events.append(
            ev.parse_event(event_json(code, data, transaction_id=transaction_id, creation_date=zoned(moment)))
        )
    return events


def _status_of(events: list[ev.TransactionEvent]) -> str:
    from transactions.reduction import reduce_events

    return reduce_events(events).status.value


def _activation(client_id: str, user_id: str | None, changes: dict[str, Any] | None) -> dict[str, Any]:
    data = copy.deepcopy(EVENT_DATA[C.TRANSACTION_ACTIVATED_EVENT])
    data.update(clientId=client_id, userId=user_id, **(changes or {}))
    return data


def _requested(type_code: str, gateway: str, wallet: bool, changes: dict[str, Any] | None) -> dict[str, Any]:
    data = copy.deepcopy(EVENT_DATA[C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT])
    data.update(paymentTypeCode=type_code, paymentGateway=gateway)
    if gateway == "REDIRECT":
        data["transactionGatewayAuthorizationRequestedData"] = copy.deepcopy(REDIRECT_REQUESTED_DATA)
    elif not wallet:
        data["transactionGatewayAuthorizationRequestedData"]["walletInfo"] = None
    data.update(changes or {})
    return data


def _completed(
    gateway: str, authorized: bool, changes: dict[str, Any] | None, gateway_changes: dict[str, Any] | None
) -> dict[str, Any]:
    data = copy.deepcopy(EVENT_DATA[C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT])
    if gateway == "REDIRECT":
        gateway_data = {**REDIRECT_AUTHORIZATION, "outcome": "OK" if authorized else "KO"}
    else:
        gateway_data = {**NPG_AUTHORIZATION, "operationResult": "EXECUTED" if authorized else "DECLINED"}
    gateway_data.update(gateway_changes or {})
    data["transactionGatewayAuthorizationData"] = gateway_data
    data.update(changes or {})
    return data
