"""POST /event-dispatcher/transactions/events: store v2 events once, report what was refused and why."""

import json

import pytest

from tests.transactions.factories import TX, C, event_json
from transactions.api import MAX_EVENTS_PER_REQUEST
from transactions.models import Transaction, TransactionEvent

URL = "/event-dispatcher/transactions/events"
pytestmark = pytest.mark.django_db


def post(client, headers, body):
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(URL, text, content_type="application/json", headers=headers)


def a_transaction():
    return [
        event_json(C.TRANSACTION_ACTIVATED_EVENT),
        event_json(C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT),
        event_json(C.TRANSACTION_AUTHORIZATION_COMPLETED_EVENT),
    ]


def test_valid_events_are_stored_in_order_and_the_view_follows(client, api_headers):
    events = a_transaction()
    response = post(client, api_headers, events)
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] == []
    assert [(s["index"], s["id"], s["sequence"], s["alreadyStored"]) for s in body["stored"]] == [
        (i, e["id"], i + 1, False) for i, e in enumerate(events)
    ]
    assert list(TransactionEvent.objects.order_by("sequence").values_list("event_id", flat=True)) == [
        e["id"] for e in events
    ]
    assert Transaction.objects.get(pk=TX).status == "AUTHORIZATION_COMPLETED"


def test_posting_the_same_events_again_stores_nothing_new(client, api_headers):
    events = a_transaction()
    post(client, api_headers, events)
    response = post(client, api_headers, events)
    assert response.status_code == 200
    assert [s["alreadyStored"] for s in response.json()["stored"]] == [True, True, True]
    assert TransactionEvent.objects.count() == 3


def test_invalid_items_are_refused_with_the_field_named_and_valid_ones_stored(client, api_headers):
    events = a_transaction()
    events[2]["data"]["transactionGatewayAuthorizationData"]["operationResult"] = "MAYBE"
    response = post(client, api_headers, [*events, "not an event"])
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["title"], body["status"]) == ("Bad request", 400)
    assert "2 of 4 events were refused" in body["detail"]
    assert [s["index"] for s in body["stored"]] == [0, 1]
    refused = {r["index"]: r for r in body["refused"]}
    assert refused[2]["id"] == events[2]["id"]
    assert refused[2]["error"].startswith("event.data.transactionGatewayAuthorizationData.operationResult")
    assert refused[3]["error"] == "event: expected an object"
    assert not TransactionEvent.objects.filter(pk=events[2]["id"]).exists()
    assert TransactionEvent.objects.count() == 2


def test_a_repeated_id_with_different_content_is_refused(client, api_headers):
    events = a_transaction()
    post(client, api_headers, events)
    events[1]["data"]["fee"] = 999
    response = post(client, api_headers, [events[1]])
    assert response.status_code == 400
    assert "already stored with different content" in response.json()["refused"][0]["error"]
    assert TransactionEvent.objects.get(pk=events[1]["id"]).data["fee"] == 150


def test_events_of_an_unknown_transaction_must_start_with_activation(client, api_headers):
    response = post(client, api_headers, [event_json(C.TRANSACTION_USER_CANCELED_EVENT)])
    assert response.status_code == 400
    assert "first event must be TRANSACTION_ACTIVATED_EVENT" in response.json()["refused"][0]["error"]
    assert not TransactionEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{not json", "not valid JSON"),
        ({"event": {}}, "non-empty JSON array"),
        ([], "non-empty JSON array"),
        ([{}] * (MAX_EVENTS_PER_REQUEST + 1), f"At most {MAX_EVENTS_PER_REQUEST} events"),
    ],
    ids=["not json", "object", "empty", "too many"],
)
def test_a_body_that_is_not_an_array_of_events_is_refused_whole(client, api_headers, body, detail):
    response = post(client, api_headers, body)
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert not TransactionEvent.objects.exists()


def test_other_methods_get_a_405_problem(client, api_headers):
    response = client.get(URL, headers=api_headers)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["status"] == 405


def test_without_the_api_key_nothing_is_stored(client):
    assert post(client, {}, a_transaction()).status_code == 401
    assert not TransactionEvent.objects.exists()


def test_an_event_that_loses_every_append_race_is_refused_as_retryable_with_409(client, api_headers, monkeypatch):
    from transactions import store

    activation = a_transaction()[:1]
    assert post(client, api_headers, activation).status_code == 200
    # No attempts left: what a transaction under constant concurrent appends looks like to the API.
    monkeypatch.setattr(store, "INCOMING_APPEND_ATTEMPTS", 0)
    response = post(client, api_headers, a_transaction()[1:2])
    assert response.status_code == 409
    body = response.json()
    assert body["refused"][0]["retryable"] is True
    assert "kept changing" in body["refused"][0]["error"]
    assert TransactionEvent.objects.count() == 1
