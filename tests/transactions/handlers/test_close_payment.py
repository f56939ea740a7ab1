"""Close payment (spec §5.1) through real messages on close-payment and close-payment-retry."""

import json

import pytest
from django.db import connections
from werkzeug import Response

from dispatcher_site.local_servers import free_port
from receivers.relay import relay_rows
from tests.transactions.factories import NPG_AUTHORIZATION, TX, C, make_event, with_changes
from tests.transactions.handlers.builders import (
    RPT_ID,
    SECOND_RPT_ID,
    TRACING,
    activated,
    authorization_requested,
    closed,
    closure_error,
    closure_requested,
    closure_retried,
    codes,
    dated,
    expired,
    payment,
    store_history,
    stored_state,
    user_canceled,
)
from tests.transactions.handlers.conftest import (
    EMAIL,
    FISCAL_CODE,
    HANDLER_DB,
    consume,
    dead_letters,
    deliver,
    hidden_count,
    queue_length,
    requests_to,
    run_consume_queue,
    send_event,
    visible_events,
    wait_until_visible,
)
from tests.transactions.handlers.interruptions import decide_and_die, redeliver
from transactions.models import Transaction

pytestmark = HANDLER_DB

USER_ID = "c3a1b2d4-0000-4000-8000-000000000001"


def nodo_answers(httpserver, status=200, body=None):
    handler = httpserver.expect_request("/nodo/closepayment", method="POST")
    if body is None and status != 200:
        handler.respond_with_data("", status=status)
    else:
        handler.respond_with_json(body if body is not None else {"outcome": "OK"}, status=status)


def closure(type_code="CP", authorized=True, extra=(), **activation):
    """Store a transaction waiting for its closure; return the event to deliver."""
    events = store_history([activated(**activation), *payment(type_code, authorized=authorized), closure_requested()])
    for event in extra:
        store_history([event])
    return events[-1]


def nodo_bodies(httpserver):
    return [json.loads(request.data) for request in requests_to(httpserver, "/nodo/")]


def view():
    return Transaction.objects.get(pk=TX)


def event_data(code):
    return [e.to_json_dict()["data"] for e in stored_state().events if e.event_code.value == code]


def test_an_authorized_payment_answered_ok_is_closed_and_waits_for_the_payment_result(stand_ins):
    nodo_answers(stand_ins, body={"outcome": "OK"})
    event = closure("CP")

    deliver("close-payment", event.to_json_dict())

    assert codes() == ["ACTIVATED", "AUTHORIZATION_REQUESTED", "AUTHORIZATION_COMPLETED", "CLOSURE_REQUESTED", "CLOSED"]
    assert event_data("TRANSACTION_CLOSED_EVENT") == [{"responseOutcome": "OK", "wasCanceledByUser": False}]
    assert (view().status, view().send_payment_result_outcome, view().closure_error_data) == (
        "CLOSED",
        "NOT_RECEIVED",
        None,
    )
    [request] = requests_to(stand_ins, "/nodo/")
    assert request.args["clientId"] == "ecomm"
    assert request.headers["ocp-apim-subscription-key"] == "nodo-key"
    body = json.loads(request.data)
    assert body["outcome"] == "OK"
    assert (body["totalAmount"], body["fee"]) == (121.5, 1.5)
    assert body["additionalPaymentInformations"]["email"] == EMAIL
    assert body["additionalPaymentInformations"]["totalAmount"] == "121.50"
    assert body["transactionDetails"]["user"] == {"type": "GUEST"}
    assert requests_to(stand_ins, "/pdv/")[0].headers["x-api-key"] == "ecommerce-pdv-key"
    assert queue_length("close-payment") == 0
    assert queue_length("refund") == 0
    assert dead_letters() == []


def test_a_registered_user_is_closed_with_the_decrypted_fiscal_code(stand_ins, settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(WALLET_SESSION_PERSONAL_DATA_VAULT_API_KEY="wallet-key")
    stand_ins.expect_request(f"/pdv/tokens/{USER_ID}/pii").respond_with_json({"pii": FISCAL_CODE})
    nodo_answers(stand_ins)
    event = closure("CP", client="IO", user_id=USER_ID)

    deliver("close-payment", event.to_json_dict())

    [body] = nodo_bodies(stand_ins)
    assert body["transactionDetails"]["user"] == {"type": "REGISTERED", "fiscalCode": FISCAL_CODE}
    assert requests_to(stand_ins, f"/pdv/tokens/{USER_ID}")[0].headers["x-api-key"] == "wallet-key"
    assert view().status == "CLOSED"


def test_an_authorized_payment_answered_ko_is_closed_and_refunded(stand_ins):
    nodo_answers(stand_ins, body={"outcome": "KO"})
    event = closure("CP")

    deliver("close-payment", event.to_json_dict())

    assert codes()[-2:] == ["CLOSED", "REFUND_REQUESTED"]
    assert event_data("TRANSACTION_CLOSED_EVENT") == [{"responseOutcome": "KO", "wasCanceledByUser": False}]
    [requested] = event_data("TRANSACTION_REFUND_REQUESTED_EVENT")
    assert requested["statusBeforeRefunded"] == "CLOSED"
    assert requested["gatewayAuthData"] == NPG_AUTHORIZATION
    assert view().status == "REFUND_REQUESTED"
    [message] = visible_events("refund")
    assert message == {"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}


def test_a_denied_authorization_is_closed_ko_as_closure_failed(stand_ins):
    nodo_answers(stand_ins, body={"outcome": "OK"})
    event = closure("CP", authorized=False)

    deliver("close-payment", event.to_json_dict())

    assert nodo_bodies(stand_ins)[0]["outcome"] == "KO"
    assert codes()[-1] == "CLOSURE_FAILED"
    assert event_data("TRANSACTION_CLOSURE_FAILED_EVENT") == [{"responseOutcome": "OK", "wasCanceledByUser": False}]
    assert (view().status, view().send_payment_result_outcome) == ("UNAUTHORIZED", "")
    assert queue_length("refund") == 0


def test_a_user_cancellation_is_closed_as_canceled_and_forgets_the_activation_cache(stand_ins, redis_client):
    nodo_answers(stand_ins, body={"outcome": "OK"})
    redis_client.set(f"keys:{RPT_ID}", "cached")
    redis_client.set(f"keys:{SECOND_RPT_ID}", "cached")
    redis_client.set("keys:other", "kept")
    events = store_history([activated(notices=2), user_canceled()])

    deliver("close-payment", events[-1].to_json_dict())

    assert nodo_bodies(stand_ins)[0]["transactionDetails"]["transaction"]["transactionStatus"] == "Annullato"
    assert codes() == ["ACTIVATED", "USER_CANCELED", "CLOSED"]
    assert event_data("TRANSACTION_CLOSED_EVENT") == [{"responseOutcome": "OK", "wasCanceledByUser": True}]
    assert (view().status, view().send_payment_result_outcome) == ("CANCELED", "")
    assert redis_client.keys("keys:*") == ["keys:other"]


def test_a_failed_cancellation_still_forgets_the_activation_cache_and_retries(stand_ins, redis_client):
    nodo_answers(stand_ins, status=502)
    redis_client.set(f"keys:{RPT_ID}", "cached")
    events = store_history([activated(), user_canceled()])

    deliver("close-payment", events[-1].to_json_dict())

    assert redis_client.keys("keys:*") == []
    assert codes()[-2:] == ["CLOSURE_ERROR", "CLOSURE_RETRIED"]
    assert hidden_count("close-payment-retry") == 1


def test_an_unreachable_redis_does_not_fail_the_cancellation(stand_ins, settings):
    nodo_answers(stand_ins)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    events = store_history([activated(), user_canceled()])

    deliver("close-payment", events[-1].to_json_dict())

    assert view().status == "CANCELED"
    assert dead_letters() == []


def test_a_transaction_already_closed_is_left_alone(stand_ins):
    nodo_answers(stand_ins)
    closure("CP", extra=[closed("OK")])
    retried = store_history([closure_retried(1)])[0]

    deliver("close-payment-retry", retried.to_json_dict())

    assert requests_to(stand_ins, "/nodo/") == []
    assert codes()[-2:] == ["CLOSED", "CLOSURE_RETRIED"]
    assert dead_letters() == []
    assert queue_length("close-payment-retry") == 0


def test_a_transaction_that_cannot_be_closed_is_dead_lettered_without_calling_nodo(stand_ins):
    nodo_answers(stand_ins)
    store_history([activated(), expired("ACTIVATED")])
    canceled = store_history([user_canceled()])[0]

    deliver("close-payment", canceled.to_json_dict())

    assert requests_to(stand_ins, "/nodo/") == []
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"]) == (
        "PROCESSING_ERROR",
        TX,
        "TRANSACTION_USER_CANCELED_EVENT",
    )
    assert codes() == ["ACTIVATED", "EXPIRED", "USER_CANCELED"]


def test_a_closure_requested_event_not_yet_stored_is_stored_first(stand_ins):
    nodo_answers(stand_ins)
    store_history([activated(), *payment("CP")])
    [requested] = dated([closure_requested()], ages=[0])  # not stored: it only travels in the message

    deliver("close-payment", requested.to_json_dict())

    assert codes()[-2:] == ["CLOSURE_REQUESTED", "CLOSED"]
    assert stored_state().events[-2].id == requested.id


# --- Nodo errors (step 6) -------------------------------------------------------------------------

REFUND, RETRY, STOP = "refund", "retry", "stop"


@pytest.mark.parametrize(
    ("status", "body", "http_error_code", "then"),
    [
        (400, {"outcome": "KO", "description": "Invalid token"}, "BAD_REQUEST", STOP),
        (400, {"outcome": "KO", "description": "Wrong amount"}, "BAD_REQUEST", REFUND),
        (400, None, "BAD_REQUEST", REFUND),
        (404, {"outcome": "KO", "description": "Not found"}, "NOT_FOUND", REFUND),
        (422, {"outcome": "KO", "description": "Node did not receive RPT yet"}, "UNPROCESSABLE_ENTITY", REFUND),
        (422, {"outcome": "KO", "description": "Something else"}, "UNPROCESSABLE_ENTITY", STOP),
        (422, None, "UNPROCESSABLE_ENTITY", STOP),
        (401, None, "UNAUTHORIZED", STOP),
        (409, {"outcome": "KO", "description": "Conflict"}, "CONFLICT", STOP),
        (500, {"outcome": "KO", "description": "Internal Server Error"}, "INTERNAL_SERVER_ERROR", RETRY),
        (503, None, "SERVICE_UNAVAILABLE", RETRY),
    ],
)
def test_nodo_errors_record_a_closure_error_then_refund_retry_or_stop(stand_ins, status, body, http_error_code, then):
    nodo_answers(stand_ins, status=status, body=body)
    event = closure("CP")

    deliver("close-payment", event.to_json_dict())

    description = (body or {}).get("description")
    expected_error = {
        "httpErrorCode": http_error_code,
        "errorDescription": description,
        "errorType": "KO_RESPONSE_RECEIVED",
    }
    assert event_data("TRANSACTION_CLOSURE_ERROR_EVENT") == [expected_error]
    assert view().closure_error_data == expected_error
    after = {REFUND: ["REFUND_REQUESTED"], RETRY: ["CLOSURE_RETRIED"], STOP: []}[then]
    assert codes()[4:] == ["CLOSURE_ERROR", *after]
    assert view().status == {REFUND: "REFUND_REQUESTED", RETRY: "CLOSURE_ERROR", STOP: "CLOSURE_ERROR"}[then]
    assert queue_length("refund") == (1 if then == REFUND else 0)
    assert hidden_count("close-payment-retry") == (1 if then == RETRY else 0)
    assert dead_letters() == []
    if then == REFUND:
        [requested] = event_data("TRANSACTION_REFUND_REQUESTED_EVENT")
        assert requested["statusBeforeRefunded"] == "CLOSURE_ERROR"
    if then == RETRY:
        [retried] = event_data("TRANSACTION_CLOSURE_RETRIED_EVENT")
        assert retried == {"retryCount": 1, "closureErrorData": expected_error}


@pytest.mark.parametrize("history", ["denied authorization", "cancellation"])
def test_a_refundable_nodo_error_refunds_nothing_that_was_not_authorized(stand_ins, history):
    nodo_answers(stand_ins, status=404, body={"outcome": "KO", "description": "Not found"})
    if history == "cancellation":
        event = store_history([activated(), user_canceled()])[-1]
    else:
        event = closure("CP", authorized=False)

    deliver("close-payment", event.to_json_dict())

    assert codes()[-1] == "CLOSURE_ERROR"
    assert queue_length("refund") == 0
    assert view().status == "CLOSURE_ERROR"


def test_a_nodo_timeout_is_a_communication_error_and_is_retried(stand_ins, settings, silent_base_url):
    settings.DISPATCHER = settings.DISPATCHER.replace(NODO_URI=silent_base_url, NODO_READ_TIMEOUT=200)
    event = closure("CP")

    deliver("close-payment", event.to_json_dict())

    [error] = event_data("TRANSACTION_CLOSURE_ERROR_EVENT")
    assert (error["httpErrorCode"], error["errorType"]) == (None, "COMMUNICATION_ERROR")
    assert codes()[-1] == "CLOSURE_RETRIED"
    assert hidden_count("close-payment-retry") == 1


def test_the_retry_message_becomes_visible_after_the_base_interval_times_the_attempt(stand_ins):
    nodo_answers(stand_ins, status=500, body={"outcome": "KO", "description": "down"})
    event = closure("CP")

    deliver("close-payment", event.to_json_dict())

    assert visible_events("close-payment-retry") == []
    [message] = wait_until_visible("close-payment-retry")
    assert message == {"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}
    assert message["event"]["data"]["retryCount"] == 1


def test_a_retried_closure_writes_one_closure_error_per_failed_attempt_and_counts_on(stand_ins):
    nodo_answers(stand_ins, status=500, body={"outcome": "KO", "description": "down"})
    closure("CP", extra=[closure_error(), closure_retried(1)])
    retried = stored_state().events[-1]

    deliver("close-payment-retry", retried.to_json_dict())

    assert codes()[4:] == ["CLOSURE_ERROR", "CLOSURE_RETRIED", "CLOSURE_ERROR", "CLOSURE_RETRIED"]
    assert stored_state().events[-1].data.retry_count == 2
    assert hidden_count("close-payment-retry") == 1


def test_a_closure_error_event_on_the_retry_queue_starts_counting_at_zero(stand_ins):
    nodo_answers(stand_ins, status=500, body={"outcome": "KO", "description": "down"})
    closure("CP", extra=[closure_error()])

    deliver("close-payment-retry", stored_state().events[-1].to_json_dict())

    assert stored_state().events[-1].data.retry_count == 1


def test_exhausted_closure_retries_are_dead_lettered_after_the_closure_error(stand_ins):
    nodo_answers(stand_ins, status=500, body={"outcome": "KO", "description": "down"})
    closure("CP", extra=[closure_error(), closure_retried(3)])

    deliver("close-payment-retry", stored_state().events[-1].to_json_dict())

    assert codes()[-1] == "CLOSURE_ERROR"
    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"], letter["eventCode"]) == (
        "RETRY_EVENT_NO_ATTEMPTS_LEFT",
        TX,
        "TRANSACTION_CLOSURE_RETRIED_EVENT",
    )
    assert queue_length("close-payment-retry") == 0


def test_a_retry_that_would_come_after_the_payment_token_expires_is_too_late(stand_ins):
    nodo_answers(stand_ins, status=500, body={"outcome": "KO", "description": "down"})
    events = [activated(validity=30), *payment("CP"), closure_requested()]
    store_history(events, ages=[25, 24, 23, 22])

    deliver("close-payment", stored_state().events[-1].to_json_dict())

    assert codes()[-1] == "CLOSURE_ERROR"
    [letter] = dead_letters()
    assert letter["category"] == "RETRY_EVENT_NO_ATTEMPTS_LEFT"
    assert queue_length("close-payment-retry") == 0


def test_a_request_that_cannot_be_built_is_retried_without_calling_nodo(stand_ins):
    nodo_answers(stand_ins)
    event = closure("CP", client="IO")  # IO without userId

    deliver("close-payment", event.to_json_dict())

    assert requests_to(stand_ins, "/nodo/") == []
    [error] = event_data("TRANSACTION_CLOSURE_ERROR_EVENT")
    assert error["errorType"] == "COMMUNICATION_ERROR"
    assert "userId" in error["errorDescription"]
    assert codes()[-1] == "CLOSURE_RETRIED"


def test_a_personal_data_vault_refusal_is_retried_not_taken_for_a_nodo_refusal(stand_ins, settings):
    base = stand_ins.url_for("").rstrip("/")
    settings.DISPATCHER = settings.DISPATCHER.replace(PERSONAL_DATA_VAULT_API_BASE_PATH=f"{base}/pdv-down")
    stand_ins.expect_request("/pdv-down/tokens/5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f/pii").respond_with_data("", 404)
    nodo_answers(stand_ins)
    event = closure("CP")

    deliver("close-payment", event.to_json_dict())

    assert requests_to(stand_ins, "/nodo/") == []
    assert event_data("TRANSACTION_CLOSURE_ERROR_EVENT")[0]["errorType"] == "COMMUNICATION_ERROR"
    assert codes()[-1] == "CLOSURE_RETRIED"


# --- concurrency ----------------------------------------------------------------------------------


def test_an_expiration_appended_while_nodo_was_called_wins_and_the_closure_records_nothing(stand_ins, settings):
    """The closure reloads after its append conflicts, sees EXPIRED and writes no contradicting CLOSED."""
    event = closure("CP")
    send_event("expiration", stored_state().events[0].to_json_dict())

    def nodo_while_expiring(request):
        try:
            consume("expiration")  # the expiration consumer runs while Nodo is answering
        finally:
            connections.close_all()  # this server thread's own connection
        return Response(json.dumps({"outcome": "OK"}), status=200, content_type="application/json")

    stand_ins.expect_request("/nodo/closepayment", method="POST").respond_with_handler(nodo_while_expiring)

    deliver("close-payment", event.to_json_dict())

    assert codes()[3:] == ["CLOSURE_REQUESTED", "EXPIRED"]
    assert view().status == "EXPIRED"
    letters = {letter["category"]: letter for letter in dead_letters()}
    assert letters["REFUND_MANUAL_CHECK_REQUIRED"]["eventCode"] == "TRANSACTION_ACTIVATED_EVENT"
    assert letters["PROCESSING_ERROR"]["eventCode"] == "TRANSACTION_CLOSURE_REQUESTED_EVENT"
    assert "EXPIRED" in letters["PROCESSING_ERROR"]["error"]


def test_an_event_of_an_unknown_transaction_is_dead_lettered(stand_ins):
    nodo_answers(stand_ins)
    [requested] = dated([closure_requested()], ages=[0])

    deliver("close-payment", requested.to_json_dict())

    [letter] = dead_letters()
    assert (letter["category"], letter["transactionId"]) == ("PROCESSING_ERROR", TX)
    assert requests_to(stand_ins, "/nodo/") == []
    assert not Transaction.objects.exists()


def test_the_consume_queue_command_closes_a_cancellation(stand_ins, subprocess_env, manage_py):
    nodo_answers(stand_ins)
    events = store_history([activated(), user_canceled()])
    send_event("close-payment", events[-1].to_json_dict())

    base = stand_ins.url_for("").rstrip("/")
    run_consume_queue(
        manage_py, subprocess_env, "close-payment", NODO_URI=f"{base}/nodo", NODO_NODEFORECOMMERCE_API_KEY="nodo-key"
    )

    assert codes() == ["ACTIVATED", "USER_CANCELED", "CLOSED"]
    assert view().status == "CANCELED"
    [request] = requests_to(stand_ins, "/nodo/")
    assert request.headers["ocp-apim-subscription-key"] == "nodo-key"
    assert queue_length("close-payment") == 0
    assert dead_letters() == []


def test_legacy_pgs_authorization_data_is_dead_lettered_without_calling_nodo(stand_ins):
    nodo_answers(stand_ins)
    pgs = {"type": "PGS", "errorCode": None, "authorizationResultDto": "OK"}
    completed = make_event(
        C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT,
        with_changes(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT, transactionGatewayAuthorizationData=pgs),
    )
    events = store_history([activated(), authorization_requested("CP"), completed, closure_requested()])

    deliver("close-payment", events[-1].to_json_dict())

    assert requests_to(stand_ins, "/nodo/") == []
    [letter] = dead_letters()
    assert letter["category"] == "PROCESSING_ERROR"
    assert "PGS" in letter["error"]
    assert codes()[-1] == "CLOSURE_REQUESTED"


# --- a consumer that dies between its commit and the relay (spec Part A §11) -------------------------


def stored_refund_message():
    return {"event": stored_state().refund_requested.to_json_dict(), "tracingInfo": TRACING}


@pytest.mark.parametrize(
    ("status", "body", "decided", "follow_up_queue"),
    [
        (200, {"outcome": "KO"}, ["CLOSED", "REFUND_REQUESTED"], "refund"),
        (503, None, ["CLOSURE_ERROR", "CLOSURE_RETRIED"], "close-payment-retry"),
        (404, {"outcome": "KO", "description": "Not Found"}, ["CLOSURE_ERROR", "REFUND_REQUESTED"], "refund"),
    ],
)
def test_a_closure_redelivered_after_its_decision_committed_only_relays_its_follow_up(
    stand_ins, status, body, decided, follow_up_queue
):
    nodo_answers(stand_ins, status=status, body=body)
    event = closure("CP")
    rows = decide_and_die("close-payment", event.to_json_dict())
    assert [row.queue_key for row in rows] == [follow_up_queue]
    assert queue_length(follow_up_queue) == 0, "the consumer died before sending"

    redeliver("close-payment")

    assert len(requests_to(stand_ins, "/nodo/")) == 1
    assert codes()[-2:] == decided
    assert all(codes().count(code) == 1 for code in decided)
    assert queue_length(follow_up_queue) == 1
    [follow_up] = wait_until_visible(follow_up_queue)
    assert follow_up == {"event": stored_state().events[-1].to_json_dict(), "tracingInfo": TRACING}
    assert dead_letters() == []
    assert queue_length("close-payment") == 0


def test_a_closure_request_sent_again_for_a_closed_transaction_is_a_no_op(stand_ins):
    """Part B §5.1 step 1: a closed transaction is not closed again, and no refund is requested on that account."""
    event = closure("CP", extra=[closed("KO")])

    deliver("close-payment", event.to_json_dict())

    assert requests_to(stand_ins, "/nodo/") == []
    assert codes()[-1] == "CLOSED"
    assert queue_length("refund") == 0
    assert dead_letters() == []
    assert queue_length("close-payment") == 0


def test_a_closure_redelivered_after_its_retries_moved_on_forks_no_second_retry_chain(stand_ins):
    nodo_answers(stand_ins, status=503)
    event = closure("CP")
    [retry_row] = decide_and_die("close-payment", event.to_json_dict())  # CLOSURE_ERROR, retry 1; delete lost
    relay_rows([retry_row.id])
    wait_until_visible("close-payment-retry")
    consume("close-payment-retry")  # CLOSURE_ERROR, retry 2

    redeliver("close-payment")

    assert len(requests_to(stand_ins, "/nodo/")) == 2
    assert [data["retryCount"] for data in event_data("TRANSACTION_CLOSURE_RETRIED_EVENT")] == [1, 2]
    assert codes().count("CLOSURE_ERROR") == 2
    assert queue_length("close-payment-retry") == 1, "only retry 2"
    assert dead_letters() == []
