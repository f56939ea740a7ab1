"""The transactions service, which records an authorization outcome (spec Part B §8.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from transactions.clients import ClientError, Service, call, json_object

BLOCKING_STATUSES = (400, 401, 404)


class TransactionsServiceError(ClientError):
    """400, 401 and 404 are blocking; any other status, and no status at all, are retryable."""

    service = "transactions-service"

    @classmethod
    def retryable_status(cls, status: int | None) -> bool:
        return status not in BLOCKING_STATUSES


TRANSACTIONS_SERVICE = Service(
    "transactions-service", "TRANSACTIONS_SERVICE_URI", "TRANSACTIONS_SERVICE", TransactionsServiceError
)


def _status(response: requests.Response) -> str:
    status = json_object(response)["status"]
    if not isinstance(status, str):
        raise TypeError("status is not a string")
    return status


def patch_auth_request(transaction_id: str, body: Mapping[str, Any]) -> str:
    """PATCH /transactions/{id}/auth-requests with `{outcomeGateway, timestampOperation}`; the new status."""
    return call(
        TRANSACTIONS_SERVICE,
        "patch-auth-request",
        "PATCH",
        f"/transactions/{quote(transaction_id, safe='')}/auth-requests",
        headers={"Ocp-Apim-Subscription-Key": settings.DISPATCHER.TRANSACTIONS_SERVICE_API_KEY},
        json_body=dict(body),
        parse=_status,
    )
