"""Histories in REFUND_REQUESTED / REFUND_ERROR and the NPG refund and node-forwarder stand-ins."""

import uuid

from tests.transactions.factories import TX
from tests.transactions.handlers.builders import (
    OPERATION_ID,
    activated,
    closed,
    closure_requested,
    expired,
    payment,
    refund_error,
    refund_requested,
    refund_retried,
    store_history,
)

DASHED_TX = str(uuid.UUID(TX))
REFUND_OPERATION_ID = "refund-operation-42"
FORWARDER_PATH = "/forwarder/forward"


def npg_refund_path(operation_id: str = OPERATION_ID) -> str:
    return f"/npg/psp/api/v1/operations/{operation_id}/refunds"


def npg_refund_answers(httpserver, status: int = 200, operation_id: str = OPERATION_ID) -> None:
    handler = httpserver.expect_request(npg_refund_path(operation_id), method="POST")
    if status == 200:
        handler.respond_with_json({"operationId": REFUND_OPERATION_ID, "operationTime": "2023-09-25 15:00:00.000"})
    else:
        handler.respond_with_json({"errors": [{"code": str(status)}]}, status=status)


def forwarder_answers(httpserver, status: int = 200, outcome: str = "OK") -> None:
    handler = httpserver.expect_request(FORWARDER_PATH, method="POST")
    if status == 200:
        handler.respond_with_json({"idTransaction": TX, "outcome": outcome})
    else:
        handler.respond_with_data("", status=status)


def npg_refund_requested(with_authorization: bool = True, *, error: bool = False, retries: int = 0):
    """An authorized NPG payment Nodo refused, refund requested (and failed `retries` times)."""
    if with_authorization:
        events = [activated(), *payment("CP"), closure_requested(), closed("KO"), refund_requested("CLOSED")]
    else:
        events = [
            activated(),
            *payment("CP", completed=False),
            expired("AUTHORIZATION_REQUESTED"),
            refund_requested("EXPIRED", gateway_auth_data=None),
        ]
    if error or retries:
        events.append(refund_error())
    events += [refund_retried(count, None if not with_authorization else ...) for count in range(1, retries + 1)]
    return store_history(events)


def redirect_refund_requested(type_code: str = "RBPB", *, retries: int = 0, client: str = "CHECKOUT"):
    events = [
        activated(client=client),
        *payment(type_code),
        closure_requested(),
        closed("KO"),
        refund_requested("CLOSED", gateway_auth_data=None),
    ]
    if retries:
        events.append(refund_error())
    events += [refund_retried(count, None) for count in range(1, retries + 1)]
    return store_history(events)
