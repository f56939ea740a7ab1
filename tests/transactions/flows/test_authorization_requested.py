"""Authorization requested (spec §5.7): last used method, first-attempt postponement, then outcome recovery."""

import json

import pytest

from tests.transactions.flows.conftest import (
    dead_letters,
    deliver,
    hidden_count,
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
QUEUE = "authorization-requested"
USER_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
STATS_PATH = "/user-stats/user/lastPaymentMethodUsed"
STATE_PATH = "/npg/psp/api/v1/build/state"
PATCH_PATH = f"/transactions-service/transactions/{TX}/auth-requests"
FIRST_ATTEMPT_DELAY = 175


@pytest.fixture
def outcome_settings(settings):
    settings.DISPATCHER = settings.DISPATCHER.replace(
        AUTHORIZATION_OUTCOME_FIRST_ATTEMPT_DELAY_SECONDS=FIRST_ATTEMPT_DELAY,
        AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS=80,
        AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS=3,
        USER_STATS_SERVICE_ENABLE_SAVE_LAST_USAGE=True,
    )


def requested(first_attempt=True, until="authorization requested", **options):
    """Store the history up to `until`, except an AUTHORIZATION_REQUESTED event at its end; return that event.

    A first attempt's event is one second old; a later one is older than the first-attempt delay.
    """
    events = story(until, created_seconds_ago=2 if first_attempt else FIRST_ATTEMPT_DELAY + 30, **options)
    store(events[:1] if until == "authorization requested" else events)
    return events[1]


def stats_bodies(services):
    return [json.loads(request.data) for request in requests_to(services, "/user-stats")]


def test_first_attempt_saves_the_wallet_used_and_postpones_the_message(services, sent_messages, outcome_settings):
    services.expect_request(STATS_PATH, method="PUT").respond_with_data("", status=204)
    event = requested(user_id=USER_ID)

    deliver(QUEUE, event)

    [stats] = requests_to(services, "/user-stats")
    assert stats.headers["Ocp-Apim-Subscription-Key"] == "user-stats-key"
    assert json.loads(stats.data) == {
        "userId": USER_ID,
        "details": {
            "type": "wallet",
            "walletId": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "date": event.created_at.isoformat(),
        },
    }
    assert requests_to(services, "/npg") == []
    [(queue, message, visibility)] = sent_messages
    assert (queue, message) == (QUEUE, {"event": event.to_json_dict(), "tracingInfo": TRACING_INFO})
    # threshold - now + 10 s, with the event one second old when the test built it
    assert FIRST_ATTEMPT_DELAY < visibility <= FIRST_ATTEMPT_DELAY + 9
    assert hidden_count(QUEUE) == 1
    assert stored_codes(TX) == ["TRANSACTION_ACTIVATED_EVENT", "TRANSACTION_AUTHORIZATION_REQUESTED_EVENT"]
    assert view_status(TX) == "AUTHORIZATION_REQUESTED"


def test_a_guest_payment_saves_the_payment_instrument(services, sent_messages, outcome_settings):
    services.expect_request(STATS_PATH, method="PUT").respond_with_data("", status=204)
    event = requested(user_id=USER_ID, wallet=False)

    deliver(QUEUE, event)

    assert stats_bodies(services) == [
        {
            "userId": USER_ID,
            "details": {
                "type": "guest",
                "paymentMethodId": "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
                "date": event.created_at.isoformat(),
            },
        }
    ]


@pytest.mark.parametrize("stats_status", [500, 400])
def test_user_stats_errors_are_ignored(services, sent_messages, outcome_settings, stats_status):
    services.expect_request(STATS_PATH, method="PUT").respond_with_json({}, status=stats_status)

    deliver(QUEUE, requested(user_id=USER_ID))

    assert len(requests_to(services, "/user-stats")) == 1
    assert [queue for queue, _, _ in sent_messages] == [QUEUE]
    assert dead_letters() == []


@pytest.mark.parametrize(
    ("case", "user_id", "enabled"),
    [("no user", None, True), ("saving disabled", USER_ID, False)],
)
def test_no_user_stats_without_a_user_or_when_disabled(
    services, sent_messages, settings, outcome_settings, case, user_id, enabled
):
    settings.DISPATCHER = settings.DISPATCHER.replace(USER_STATS_SERVICE_ENABLE_SAVE_LAST_USAGE=enabled)

    deliver(QUEUE, requested(user_id=user_id))

    assert requests_to(services, "/user-stats") == []
    assert [queue for queue, _, _ in sent_messages] == [QUEUE]


def test_a_closure_requested_transaction_saves_no_stats_but_waits_for_the_threshold(
    services, sent_messages, outcome_settings
):
    deliver(QUEUE, requested(until="closure requested", user_id=USER_ID))

    assert requests_to(services, "/user-stats") == []
    assert [queue for queue, _, _ in sent_messages] == [QUEUE]


def test_a_redirect_authorization_saves_stats_and_stops(services, sent_messages, outcome_settings):
    services.expect_request(STATS_PATH, method="PUT").respond_with_data("", status=204)

    deliver(QUEUE, requested(user_id=USER_ID, gateway="REDIRECT", type_code="RBPS"))

    assert len(requests_to(services, "/user-stats")) == 1
    assert sent_messages == []
    assert dead_letters() == []


def test_after_the_threshold_the_outcome_is_recovered_as_attempt_zero(services, sent_messages, outcome_settings):
    services.expect_request(STATE_PATH, method="GET").respond_with_json({}, status=503)
    event = requested(first_attempt=False, user_id=USER_ID)

    deliver(QUEUE, event)

    assert requests_to(services, "/user-stats") == [], "only the first attempt saves the last usage"
    assert len(requests_to(services, "/npg")) == 1
    retry = load_events(TX)[-1].to_json_dict()
    assert (retry["eventCode"], retry["data"]) == ("TRANSACTION_AUTHORIZATION_OUTCOME_WAITING_EVENT", {"retryCount": 1})
    assert sent_messages == [("authorization-outcome-waiting", {"event": retry, "tracingInfo": TRACING_INFO}, 80)]
    assert view_status(TX) == "AUTHORIZATION_REQUESTED"


def test_after_the_threshold_a_complete_npg_payment_is_patched(services, sent_messages, outcome_settings):
    services.expect_request(STATE_PATH, method="GET").respond_with_json(
        {
            "state": "PAYMENT_COMPLETE",
            "operation": {
                "orderId": "E1695646270817bLhU",
                "operationId": "op-1",
                "operationResult": "DECLINED",
                "operationTime": "2024-08-01 12:00:00",
                "additionalData": {"errorCode": "100"},
            },
        }
    )
    services.expect_request(PATCH_PATH, method="PATCH").respond_with_json({"status": "AUTHORIZATION_COMPLETED"})

    deliver(QUEUE, requested(first_attempt=False))

    [patch] = requests_to(services, "/transactions-service")
    body = json.loads(patch.data)
    assert (body["outcomeGateway"]["operationResult"], body["outcomeGateway"]["errorCode"]) == ("DECLINED", "100")
    assert body["timestampOperation"] == "2024-08-01T12:00:00+02:00"
    assert sent_messages == []
    assert stored_codes(TX)[-1] == "TRANSACTION_AUTHORIZATION_REQUESTED_EVENT"


def test_a_transaction_that_never_requested_an_authorization_is_left_alone(services, sent_messages, outcome_settings):
    events = story("authorization requested", created_seconds_ago=2, user_id=USER_ID)
    store([events[0], ev.TransactionUserCanceledEvent.new(TX)])

    deliver(QUEUE, events[1])  # stored, but a cancelled transaction ignores it

    assert services.log == []
    assert sent_messages == []
    assert dead_letters() == []
    assert view_status(TX) == "CANCELLATION_REQUESTED"
