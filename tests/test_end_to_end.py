"""Two card payments (NPG, CP) through the whole dispatcher, from activation to their final status.

Every consumer the payments meet runs as its own `manage.py consume_queue` process against Azurite,
Redis and the test database; Nodo, NPG, the PDV, the notifications service, the transactions service
and user stats are loopback stand-ins. The test plays the parts of the platform around the
dispatcher: it ingests the events other services write (activation, authorization request and
completion) through the HTTP API and puts the upstream messages on their queues.

- Payment A: NPG is still verifying at the first outcome attempt (one authorization-outcome retry),
  then closePayment OK, sendPaymentResult OK, receipt mailed: NOTIFIED_OK.
- Payment B: closePayment OK, sendPaymentResult KO; the first ko mail fails (one notification
  retry), the refund is requested, NPG's first refund answer is a 500 (one refund retry): REFUNDED.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime

import pytest
from werkzeug import Request, Response

from receivers.handlers import serialize_queue_event
from receivers.queues import QUEUES, queue_client
from tests.transactions.factories import EVENT_DATA
from transactions import events as ev
from transactions.events import EventCode as C
from transactions.models import Transaction

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAYMENT_A = "a0000000000000000000000000000001"
PAYMENT_B = "b0000000000000000000000000000002"
EMAIL_TOKEN = EVENT_DATA[C.TRANSACTION_ACTIVATED_EVENT]["email"]["data"]
EMAIL = "mario.rossi@example.org"
TRACING_INFO = {"traceparent": "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"}
CONSUMED_QUEUES = (
    "authorization-requested",
    "authorization-outcome-waiting",
    "close-payment",
    "close-payment-retry",
    "notifications",
    "notifications-retry",
    "refund",
    "refund-retry",
)
WAIT_SECONDS = 40


class StandIns:
    """What the loopback services answer, per payment, and what they were asked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: dict[str, list[dict]] = {}

    def record(self, name: str, request: Request) -> dict:
        body = json.loads(request.data) if request.data else {}
        with self.lock:
            self.calls.setdefault(name, []).append({"path": request.path, "args": dict(request.args), "body": body})
            return {"count": len(self.calls[name])}

    def count(self, name: str, predicate: Callable[[dict], bool] = lambda call: True) -> int:
        with self.lock:
            return sum(1 for call in self.calls.get(name, []) if predicate(call))

    # --- the services ---------------------------------------------------------------------------

    def npg_state(self, request: Request) -> Response:
        self.record("npg-state", request)
        session = request.args["sessionId"]
        first = self.count("npg-state", lambda call: call["args"]["sessionId"] == session) == 1
        if session == "session-A" and first:
            return json_response({"state": "GDI_VERIFICATION"})
        payment = "A" if session == "session-A" else "B"
        return json_response(
            {
                "state": "PAYMENT_COMPLETE",
                "operation": {
                    "orderId": f"order-{payment}",
                    "operationId": f"operation-{payment}",
                    "operationType": "AUTHORIZATION",
                    "operationResult": "EXECUTED",
                    "operationTime": "2024-08-01 12:00:00",
                    "paymentEndToEndId": f"e2e-{payment}",
                    "additionalData": {"authorizationCode": "AUTH", "rrn": "RRN"},
                },
            }
        )

    def patch_auth_request(self, request: Request) -> Response:
        self.record("transactions-service", request)
        return json_response({"status": "AUTHORIZATION_COMPLETED"})

    def close_payment(self, request: Request) -> Response:
        self.record("nodo", request)
        return json_response({"outcome": "OK"})

    def send_email(self, request: Request) -> Response:
        body = json.loads(request.data)
        self.record("mail", request)
        payment_b = body["parameters"]["transaction"]["id"] == PAYMENT_B
        if payment_b and self.count("mail", lambda call: call["body"]["templateId"] == "ko") == 1:
            return json_response({"detail": "try later"}, 503)
        return json_response({"outcome": "OK"})

    def npg_refund(self, request: Request) -> Response:
        self.record("npg-refund", request)
        if self.count("npg-refund") == 1:
            return json_response({"errors": []}, 500)
        return json_response({"operationId": "refund-operation-B", "operationTime": "2024-08-01 12:05:00"})


def json_response(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@pytest.fixture
def stand_ins(httpserver) -> StandIns:
    services = StandIns()
    httpserver.expect_request("/npg/psp/api/v1/build/state", method="GET").respond_with_handler(services.npg_state)
    httpserver.expect_request("/npg/psp/api/v1/operations/operation-B/refunds", method="POST").respond_with_handler(
        services.npg_refund
    )
    httpserver.expect_request(
        f"/transactions-service/transactions/{PAYMENT_A}/auth-requests", method="PATCH"
    ).respond_with_handler(services.patch_auth_request)
    httpserver.expect_request(
        f"/transactions-service/transactions/{PAYMENT_B}/auth-requests", method="PATCH"
    ).respond_with_handler(services.patch_auth_request)
    httpserver.expect_request("/nodo/closepayment", method="POST").respond_with_handler(services.close_payment)
    httpserver.expect_request("/notifications-service/emails", method="POST").respond_with_handler(services.send_email)
    httpserver.expect_request(f"/pdv/tokens/{EMAIL_TOKEN}/pii").respond_with_json({"pii": EMAIL})
    httpserver.expect_request("/user-stats/user/lastPaymentMethodUsed", method="PUT").respond_with_data("", 204)
    return services


@pytest.fixture
def consumers(subprocess_env, manage_py, httpserver, queues_created):
    """One `consume_queue` process per queue the payments meet, fast polling, one-second retries."""
    for key in QUEUES:
        queue_client(key).clear_messages()
    base = httpserver.url_for("").rstrip("/")
    env = {
        **subprocess_env,
        "LOG_LEVEL": "WARNING",
        "CONSUMER_POLL_INTERVAL_SECONDS": "0.1",
        "CONSUMER_MAX_POLL_INTERVAL_SECONDS": "0.3",
        "CONSUMER_VISIBILITY_TIMEOUT_SECONDS": "10",
        "RECEIVER_STATUS_REFRESH_SECONDS": "5",
        "NPG_URI": f"{base}/npg",
        "NPG_CARDS_PSP_KEYS": json.dumps({"BCITITMM": "cards-key"}),
        "NODO_URI": f"{base}/nodo",
        "PERSONAL_DATA_VAULT_API_BASE_PATH": f"{base}/pdv",
        "NOTIFICATIONS_SERVICE_URI": f"{base}/notifications-service",
        "TRANSACTIONS_SERVICE_URI": f"{base}/transactions-service",
        "USER_STATS_URL": f"{base}/user-stats",
        "AUTHORIZATION_OUTCOME_FIRST_ATTEMPT_DELAY_SECONDS": "0",
        "AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS": "1",
        "CLOSE_PAYMENT_RETRY_EVENT_BASE_INTERVAL_SECONDS": "1",
        "NOTIFICATION_RETRY_EVENT_BASE_INTERVAL_SECONDS": "1",
        "REFUND_RETRY_EVENT_BASE_INTERVAL_SECONDS": "1",
    }
    processes = [
        subprocess.Popen(
            [*manage_py, "consume_queue", key],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for key in CONSUMED_QUEUES
    ]
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- the parts the test plays ----------------------------------------------------------------------


def event(code: ev.EventCode, transaction_id: str, data) -> dict:
    return {
        "_class": ev.EVENT_CLASSES_BY_CODE[code].class_name(),
        "id": f"{transaction_id[:8]}-{code.value.lower()}",
        "transactionId": transaction_id,
        "creationDate": ev.now_zoned_text(),
        "data": data,
        "eventCode": code.value,
    }


def activation(transaction_id: str, payment: str) -> dict:
    data = json.loads(json.dumps(EVENT_DATA[C.TRANSACTION_ACTIVATED_EVENT]))
    data["transactionGatewayActivationData"]["orderId"] = f"order-{payment}"
    return event(C.TRANSACTION_ACTIVATED_EVENT, transaction_id, data)


def authorization_request(transaction_id: str, payment: str) -> dict:
    data = json.loads(json.dumps(EVENT_DATA[C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT]))
    data["authorizationRequestId"] = f"order-{payment}"
    data["transactionGatewayAuthorizationRequestedData"].update(
        sessionId=f"session-{payment}", confirmPaymentSessionId=None
    )
    return event(C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT, transaction_id, data)


def authorization_completed(transaction_id: str, payment: str) -> dict:
    gateway = {
        "type": "NPG",
        "operationResult": "EXECUTED",
        "operationId": f"operation-{payment}",
        "paymentEndToEndId": f"e2e-{payment}",
        "errorCode": None,
        "validationServiceId": None,
    }
    data = {
        "authorizationCode": "AUTH",
        "rrn": "RRN",
        "timestampOperation": datetime.now(ev.EVENT_ZONE).isoformat(),
        "transactionGatewayAuthorizationData": gateway,
    }
    return event(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, transaction_id, data)


def receipt_requested(transaction_id: str, outcome: str) -> dict:
    data = {"responseOutcome": outcome, "language": "it-IT", "paymentDate": ev.now_zoned_text()}
    return event(C.TRANSACTION_USER_RECEIPT_REQUESTED_EVENT, transaction_id, data)


def ingest(client, api_headers, *events: dict) -> None:
    response = client.post(
        "/event-dispatcher/transactions/events",
        json.dumps(events),
        content_type="application/json",
        headers=api_headers,
    )
    assert response.status_code == 200, response.content


def enqueue(queue_key: str, event_object: dict) -> None:
    queue_client(queue_key).send_message(serialize_queue_event(event_object, TRACING_INFO))


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def status_of(transaction_id: str) -> str | None:
    view = Transaction.objects.filter(pk=transaction_id).first()
    return view.status if view else None


def event_codes(client, api_headers, transaction_id: str) -> list[str]:
    detail = client.get(f"/event-dispatcher/transactions/{transaction_id}", headers=api_headers).json()
    return [
        entry["event"]["eventCode"].removeprefix("TRANSACTION_").removesuffix("_EVENT") for entry in detail["events"]
    ]


def dead_letters() -> list[str]:
    return [message.content for message in queue_client("dead-letter").peek_messages(max_messages=32)]


def test_a_card_payment_is_notified_and_a_refused_one_is_refunded(client, api_headers, stand_ins, consumers):
    payments = {PAYMENT_A: "A", PAYMENT_B: "B"}
    for transaction_id, payment in payments.items():
        activated = activation(transaction_id, payment)
        requested = authorization_request(transaction_id, payment)
        ingest(client, api_headers, activated, requested)
        enqueue("authorization-requested", requested)

    # The transactions service hears the outcome (PATCH), writes the completion and asks for closure.
    for transaction_id, payment in payments.items():
        wait_until(
            lambda tid=transaction_id: stand_ins.count("transactions-service", lambda c, t=tid: t in c["path"]) == 1,
            f"the authorization outcome of payment {payment}",
        )
        completed = authorization_completed(transaction_id, payment)
        closure_requested = event(C.TRANSACTION_CLOSURE_REQUESTED_EVENT, transaction_id, None)
        ingest(client, api_headers, completed, closure_requested)
        enqueue("close-payment", closure_requested)

    # Nodo's sendPaymentResult reaches the transactions service, which asks for the receipt mail.
    for transaction_id, outcome in ((PAYMENT_A, "OK"), (PAYMENT_B, "KO")):
        wait_until(lambda tid=transaction_id: status_of(tid) == "CLOSED", f"closure of {transaction_id}")
        enqueue("notifications", receipt_requested(transaction_id, outcome))

    wait_until(lambda: status_of(PAYMENT_A) == "NOTIFIED_OK", "payment A notified")
    wait_until(lambda: status_of(PAYMENT_B) == "REFUNDED", "payment B refunded")

    assert event_codes(client, api_headers, PAYMENT_A) == [
        "ACTIVATED",
        "AUTHORIZATION_REQUESTED",
        "AUTHORIZATION_OUTCOME_WAITING",
        "AUTHORIZATION_COMPLETED",
        "CLOSURE_REQUESTED",
        "CLOSED",
        "USER_RECEIPT_REQUESTED",
        "USER_RECEIPT_ADDED",
    ]
    assert event_codes(client, api_headers, PAYMENT_B) == [
        "ACTIVATED",
        "AUTHORIZATION_REQUESTED",
        "AUTHORIZATION_COMPLETED",
        "CLOSURE_REQUESTED",
        "CLOSED",
        "USER_RECEIPT_REQUESTED",
        "ADD_USER_RECEIPT_ERROR",
        "ADD_USER_RECEIPT_RETRY",
        "USER_RECEIPT_ADDED",
        "REFUND_REQUESTED",
        "REFUND_ERROR",
        "REFUND_RETRIED",
        "REFUNDED",
    ]
    mails = {call["body"]["parameters"]["transaction"]["id"]: call["body"] for call in stand_ins.calls["mail"]}
    assert (mails[PAYMENT_A]["templateId"], mails[PAYMENT_A]["to"]) == ("success", EMAIL)
    assert mails[PAYMENT_A]["parameters"]["transaction"]["amount"] == "121,50"
    assert mails[PAYMENT_B]["templateId"] == "ko"
    assert stand_ins.count("npg-state") == 3, "A: verifying, then complete; B: complete"
    assert [call["body"]["amount"] for call in stand_ins.calls["npg-refund"]] == ["12150", "12150"]
    assert dead_letters() == []
