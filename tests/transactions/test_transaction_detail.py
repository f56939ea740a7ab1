"""GET /event-dispatcher/transactions/<transactionId>: status, view fields and events in order."""

import pytest

from tests.transactions.factories import TX
from tests.transactions.histories import history
from transactions.store import store_incoming_event

pytestmark = pytest.mark.django_db


def test_a_known_transaction_shows_status_view_and_events_in_order(client, api_headers):
    events = history("closed OK")
    for event in events:
        store_incoming_event(event)
    response = client.get(f"/event-dispatcher/transactions/{TX}", headers=api_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["transactionId"] == TX
    assert body["status"] == body["aggregateStatus"] == "CLOSED"
    assert body["view"]["paymentGateway"] == "NPG"
    assert body["view"]["sendPaymentResultOutcome"] == "NOT_RECEIVED"
    assert body["view"]["email"] == {"data": "5d1f3c9e-8a7b-4c2d-9e1f-0a1b2c3d4e5f"}
    assert [item["sequence"] for item in body["events"]] == [1, 2, 3, 4, 5]
    assert [item["event"] for item in body["events"]] == [e.to_json_dict() for e in events]


def test_an_unknown_transaction_is_a_404_problem(client, api_headers):
    response = client.get(f"/event-dispatcher/transactions/{'f' * 32}", headers=api_headers)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {"title": "Not found", "status": 404, "detail": f"No transaction with id {'f' * 32}."}


def test_reading_needs_the_api_key(client):
    assert client.get(f"/event-dispatcher/transactions/{TX}").status_code == 401
