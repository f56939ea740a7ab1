"""Authorization outcome waiting (spec §5.8): recover the outcome from NPG or the store, PATCH it, retry."""

import json

import pytest

from tests.transactions.flows.conftest import (
    dead_letters,
    deliver,
    hidden_count,
    queue_length,
    requests_to,
    store,
    stored_codes,
    view_status,
)
from tests.transactions.flows.stories import TRACING_INFO, story
from transactions import events as ev
from transactions.store import load_events

pytestmark = pytest.mark.django_db(transaction=True, available_apps=["transactions", "receivers"])

TX = "c0ffee0000000000000000000000c0de"
QUEUE = "authorization-outcome-waiting"
STATE_PATH = "/npg/psp/api/v1/build/state"
PATCH_PATH = f"/transactions-service/transactions/{TX}/auth-requests"
CORRELATION_ID = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"


@pytest.fixture
def retry_settings(settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(
        AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS=80,
        AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS=3,
        AUTHORIZATION_OUTCOME_WAITING_EVENT_PAYMENT_TOKEN_VALIDITY_TIME_OFFSET_SECONDS=10,
    )


def waiting(retry_count=1, until="authorization requested", **options):
    """Store a history and its AUTHORIZATION_OUTCOME_WAITING event numbered `retry_count`; return that event."""
    events = story(until, **options)
    outcome_waiting = ev.TransactionAuthorizationOutcomeWaitingEvent.new(
        TX, ev.TransactionRetriedData(retry_count=retry_count)
    )
    store([*events, outcome_waiting])
    return outcome_waiting


def npg_state(operation_time="2024-01-15 10:30:00", state="PAYMENT_COMPLETE", **operation_changes):
    operation = {
        "orderId": "E1695646270817bLhU",
        "operationId": "op-1",
        "operationType": "AUTHORIZATION",
        "operationResult": "EXECUTED",
        "operationTime": operation_time,
        "paymentEndToEndId": "e2e-1",
        "additionalData": {"authorizationCode": "AUTH1", "rrn": "RRN1", "cardId4": "card-4"},
        **operation_changes,
    }
    return {"state": state, "operation": operation}


def patch_answers(services, status=200):
    services.expect_request(PATCH_PATH, method="PATCH").respond_with_json(
        {"status": "AUTHORIZATION_COMPLETED"}, status=status
    )


def patch_bodies(services):
    return [json.loads(request.data) for request in requests_to(services, "/transactions-service")]


def assert_nothing_recorded_or_sent(stored_before, sent_messages):
    assert stored_codes(TX) == stored_before
    assert sent_messages == []
    assert dead_letters() == []


@pytest.mark.parametrize(
    ("operation_time", "timestamp"),
    [
        ("2024-01-15 10:30:00", "2024-01-15T10:30:00+01:00"),
        ("2024-08-15 10:30:00.250", "2024-08-15T10:30:00.250+02:00"),
        ("2024-10-27 02:30:00", "2024-10-27T02:30:00+02:00"),  # the repeated hour of the autumn change
        ("2024-03-31 02:30:00", "2024-03-31T03:30:00+02:00"),  # the skipped hour of the spring change
    ],
)
def test_npg_outcome_is_patched_with_the_operation_time_in_cet(
    services, sent_messages, retry_settings, operation_time, timestamp
):
    services.expect_request(STATE_PATH, method="GET").respond_with_json(npg_state(operation_time))
    patch_answers(services)
    incoming = waiting()
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    [get_state] = requests_to(services, "/npg")
    assert get_state.args["sessionId"] == "confirm-session-1"
    assert (get_state.headers["Correlation-Id"], get_state.headers["X-Api-Key"]) == (CORRELATION_ID, "cards-key")
    [patch] = requests_to(services, "/transactions-service")
    assert patch.headers["Ocp-Apim-Subscription-Key"] == "transactions-key"
    assert json.loads(patch.data) == {
        "outcomeGateway": {
            "paymentGatewayType": "NPG",
            "operationResult": "EXECUTED",
            "orderId": "E1695646270817bLhU",
            "operationId": "op-1",
            "authorizationCode": "AUTH1",
            "rrn": "RRN1",
            "validationServiceId": None,
            "errorCode": None,
            "cardId4": "card-4",
            "paymentEndToEndId": "e2e-1",
        },
        "timestampOperation": timestamp,
    }
    assert_nothing_recorded_or_sent(stored_before, sent_messages)
    assert view_status(TX) == "AUTHORIZATION_REQUESTED"


def test_npg_get_state_uses_the_session_when_there_is_no_confirm_session(services, sent_messages, retry_settings):
    services.expect_request(STATE_PATH, method="GET").respond_with_json(npg_state())
    patch_answers(services)
    requested = story("authorization requested")[1].to_json_dict()["data"]
    requested["transactionGatewayAuthorizationRequestedData"]["confirmPaymentSessionId"] = None
    incoming = waiting(requested_changes=requested)

    deliver(QUEUE, incoming)

    assert requests_to(services, "/npg")[0].args["sessionId"] == "session-1"


@pytest.mark.parametrize(
    ("npg_status", "npg_body", "patch_status"),
    [
        (500, {}, None),  # NPG server error
        (200, npg_state(state="GDI_VERIFICATION"), None),  # payment not complete yet
        (200, npg_state(state="READY_FOR_PAYMENT"), None),
        (200, {"state": "PAYMENT_COMPLETE", "operation": {"operationResult": "EXECUTED"}}, None),  # no operationTime
        (200, npg_state(), 500),  # transactions service errors
        (200, npg_state(), 502),
        (200, npg_state(), 504),
        (200, npg_state(), 409),  # any other status is retryable too
    ],
)
def test_a_recoverable_failure_schedules_the_next_attempt(
    services, sent_messages, retry_settings, npg_status, npg_body, patch_status
):
    services.expect_request(STATE_PATH, method="GET").respond_with_json(npg_body, status=npg_status)
    if patch_status:
        patch_answers(services, patch_status)
    incoming = waiting(retry_count=1)
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    assert stored_codes(TX) == [*stored_before, "TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT"]
    retry = load_events(TX)[-1].to_json_dict()
    assert retry["data"] == {"retryCount": 2}
    assert view_status(TX) == "AUTHORIZATION_REQUESTED"
    assert sent_messages == [(QUEUE, {"event": retry, "tracingInfo": TRACING_INFO}, 160)]
    assert hidden_count(QUEUE) == 1
    assert dead_letters() == []


@pytest.mark.parametrize(("npg_status", "patch_status"), [(400, None), (404, None), (200, 400), (200, 401), (200, 404)])
def test_a_blocking_answer_ends_the_handling_without_a_retry(
    services, sent_messages, retry_settings, npg_status, patch_status
):
    services.expect_request(STATE_PATH, method="GET").respond_with_json(npg_state(), status=npg_status)
    if patch_status:
        patch_answers(services, patch_status)
    incoming = waiting()
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    assert len(requests_to(services, "/transactions-service")) == (1 if patch_status else 0)
    assert_nothing_recorded_or_sent(stored_before, sent_messages)


def test_no_attempt_left_drops_the_retry_but_logs_and_counts_it(
    services, sent_messages, retry_settings, statsd_listener, caplog
):
    services.expect_request(STATE_PATH, method="GET").respond_with_json({}, status=503)
    incoming = waiting(retry_count=3)
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    assert_nothing_recorded_or_sent(stored_before, sent_messages)
    assert queue_length(QUEUE) == 0
    assert any("authorization-outcome.exhausted:1|c" in line for line in metric_lines(statsd_listener))
    assert "retries exhausted" in caplog.text


def test_a_retry_after_the_payment_token_expires_is_dropped_too(services, sent_messages, retry_settings):
    services.expect_request(STATE_PATH, method="GET").respond_with_json({}, status=503)
    incoming = waiting(retry_count=1, created_seconds_ago=900 - 10 - 100)  # 160 s of visibility is too late

    stored_before = stored_codes(TX)
    deliver(QUEUE, incoming)

    assert_nothing_recorded_or_sent(stored_before, sent_messages)


@pytest.mark.parametrize("until", ["authorization completed", "closure requested"])
def test_a_stored_npg_outcome_is_patched_without_asking_npg(services, sent_messages, retry_settings, until):
    patch_answers(services)
    incoming = waiting(until=until)
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    assert requests_to(services, "/npg") == []
    assert patch_bodies(services) == [
        {
            "outcomeGateway": {
                "paymentGatewayType": "NPG",
                "operationResult": "EXECUTED",
                "orderId": "E1695646270817bLhU",
                "operationId": "01234567890123456789",
                "authorizationCode": "123456",
                "rrn": "231234567890",
                "validationServiceId": "3DS",
                "errorCode": None,
                "cardId4": None,
                "paymentEndToEndId": "e2e-0123",
            },
            "timestampOperation": "2023-09-25T14:45:00.123+02:00",
        }
    ]
    assert_nothing_recorded_or_sent(stored_before, sent_messages)


def test_a_stored_redirect_outcome_is_patched(services, sent_messages, retry_settings):
    patch_answers(services)
    deliver(QUEUE, waiting(until="closure requested", gateway="REDIRECT", type_code="RBPS", authorized=False))

    assert patch_bodies(services) == [
        {
            "outcomeGateway": {"paymentGatewayType": "REDIRECT", "outcome": "KO", "errorCode": None},
            "timestampOperation": "2023-09-25T14:45:00.123+02:00",
        }
    ]


def test_a_stored_outcome_not_accepted_yet_is_retried_and_the_view_goes_back(services, sent_messages, retry_settings):
    patch_answers(services, 500)
    deliver(QUEUE, waiting(retry_count=0, until="closure requested"))

    retry = load_events(TX)[-1].to_json_dict()
    assert retry["data"] == {"retryCount": 1}
    # The reference's retry table sets AUTHORIZATION_REQUESTED whatever the status was (kept, spec §6).
    assert view_status(TX) == "AUTHORIZATION_REQUESTED"
    assert sent_messages == [(QUEUE, {"event": retry, "tracingInfo": TRACING_INFO}, 80)]


def test_a_legacy_gateway_outcome_is_not_sent_and_not_retried(services, sent_messages, retry_settings):
    events = story("authorization completed", gateway="VPOS")
    completed = events[-1].to_json_dict()
    completed["data"]["transactionGatewayAuthorizationData"] = {
        "type": "PGS",
        "errorCode": None,
        "authorizationResultDto": "OK",
    }
    events[-1] = ev.parse_event(completed)
    outcome_waiting = ev.TransactionAuthorizationOutcomeWaitingEvent.new(TX, ev.TransactionRetriedData(retry_count=1))
    store([*events, outcome_waiting])
    stored_before = stored_codes(TX)

    deliver(QUEUE, outcome_waiting)

    assert requests_to(services, "/transactions-service") == []
    assert_nothing_recorded_or_sent(stored_before, sent_messages)


@pytest.mark.parametrize(
    ("until", "gateway"),
    [("authorization requested", "REDIRECT"), ("closed", "NPG"), ("notification requested", "NPG")],
)
def test_other_statuses_and_redirect_waits_are_left_alone(services, sent_messages, retry_settings, until, gateway):
    incoming = waiting(until=until, gateway=gateway, type_code="RBPS" if gateway == "REDIRECT" else "CP")
    stored_before = stored_codes(TX)

    deliver(QUEUE, incoming)

    assert services.log == []
    assert_nothing_recorded_or_sent(stored_before, sent_messages)


def metric_lines(listener) -> list[str]:
    """Every statsd line received until the socket stays quiet for a moment."""
    lines = []
    listener.socket.settimeout(0.3)
    try:
        while True:
            lines.extend(listener.socket.recv(65535).decode().splitlines())
    except TimeoutError:
        return lines


def test_an_npg_psp_without_an_api_key_is_retried_without_calling_npg(
    services, sent_messages, settings, retry_settings
):
    settings.DISPATCHER = settings.DISPATCHER.replace(NPG_CARDS_PSP_KEYS={"OTHERPSP": "other-key"})
    incoming = waiting(retry_count=0)

    deliver(QUEUE, incoming)

    assert services.log == []
    retry = load_events(TX)[-1].to_json_dict()
    assert (retry["eventCode"], retry["data"]) == ("TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT", {"retryCount": 1})
    assert sent_messages == [(QUEUE, {"event": retry, "tracingInfo": TRACING_INFO}, 80)]
