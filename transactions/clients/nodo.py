"""Nodo closePaymentV2 (spec Part B §8.1); the closure handler's error policy is §5.1 step 6."""

from __future__ import annotations

import enum
from http import HTTPStatus
from typing import Any

import requests
from django.conf import settings

from transactions.clients import ClientError, Service, call, json_object

INVALID_TOKEN = "Invalid token"  # noqa: S105 - a Nodo error description, not a credential
RPT_NOT_RECEIVED = "Node did not receive RPT yet"


class ClosePaymentOutcome(enum.StrEnum):
    OK = "OK"
    KO = "KO"


def is_refundable_answer(status: int | None, description: str | None) -> bool:
    """Spec §5.1: 400 (unless "Invalid token"), 404, and 422 "Node did not receive RPT yet" end the closure
    for good, so an authorized payment is refunded instead of retried."""
    return (
        (status == 400 and description != INVALID_TOKEN)
        or status == 404
        or (status == 422 and description == RPT_NOT_RECEIVED)
    )


class NodoError(ClientError):
    """closePayment failed. `body` is Nodo's `{"outcome", "description"}` when it sent one."""

    service = "nodo"

    def _describe(self) -> str:
        text = super()._describe()
        return f"{text}: {self.description}" if self.description else text

    @property
    def description(self) -> str | None:
        description = self.body.get("description") if isinstance(self.body, dict) else None
        return description if isinstance(description, str) else None

    @property
    def refundable(self) -> bool:
        """Nodo will never close this payment: refund it if it was authorized (no retry)."""
        return is_refundable_answer(self.status, self.description)

    @property
    def http_status_name(self) -> str | None:
        """The status as the reference's enum name (`BAD_REQUEST`), for ClosureErrorData.httpErrorCode."""
        if self.status is None:
            return None
        try:
            return HTTPStatus(self.status).name
        except ValueError:
            return str(self.status)

    @property
    def closure_error_data(self) -> dict[str, Any]:
        """ClosureErrorData (spec §3.3) describing this failure."""
        return {
            "httpErrorCode": self.http_status_name,
            "errorDescription": self.description,
            "errorType": "COMMUNICATION_ERROR" if self.status is None else "KO_RESPONSE_RECEIVED",
        }


NODO = Service("nodo", "NODO_URI", "NODO", NodoError)


def _outcome(response: requests.Response) -> ClosePaymentOutcome:
    return ClosePaymentOutcome(json_object(response)["outcome"])


def close_payment(request_body: dict[str, Any]) -> ClosePaymentOutcome:
    """POST the closePaymentV2 request; Nodo's answer, OK or KO. Raises NodoError."""
    config = settings.DISPATCHER
    return call(
        NODO,
        "close-payment",
        "POST",
        "/closepayment",
        params={"clientId": config.NODO_ECOMMERCE_CLIENT_ID},
        headers={"ocp-apim-subscription-key": config.NODO_NODEFORECOMMERCE_API_KEY},
        json_body=request_body,
        parse=_outcome,
    )
