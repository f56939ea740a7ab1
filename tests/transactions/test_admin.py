"""The read-only transactions admin: search, filters, and a change page with the event timeline."""

import dataclasses

import pytest
from django.contrib.auth import get_user_model

from tests.transactions.factories import TX, activated
from tests.transactions.histories import history
from transactions.events import TransactionActivatedEvent
from transactions.store import store_incoming_event

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/transactions/transaction/"
OTHER = "a" * 32


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_superuser("operator", "operator@example.org", None)  # no hashing
    client.force_login(user)
    return client


@pytest.fixture
def two_transactions():
    """TX: closed in 2023 through NPG. OTHER: activated now by IO, with its own notice."""
    for event in history("closed OK"):
        store_incoming_event(event)
    data = activated(clientId="IO").data
    notice = dataclasses.replace(
        data.payment_notices[0],
        payment_token="feedfacefeedfacefeedfacefeedface",
        rpt_id="88888888888302000000000000001",
    )
    data = dataclasses.replace(data, payment_notices=[notice])
    store_incoming_event(TransactionActivatedEvent.new(OTHER, data))


def listed(response):
    content = response.content.decode()
    return {tx for tx in (TX, OTHER) if f"/{tx}/change/" in content}


def test_the_changelist_lists_every_transaction(operator, two_transactions):
    response = operator.get(CHANGELIST)
    assert response.status_code == 200
    assert listed(response) == {TX, OTHER}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": TX}, {TX}),
        ({"q": "0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d"}, {TX}),
        ({"q": "feedfacefeedfacefeedfacefeedface"}, {OTHER}),
        ({"q": "77777777777302016723749670035"}, {TX}),
        ({"q": "88888888888302000000000000001"}, {OTHER}),
        ({"q": "no-such-thing"}, set()),
        ({"status__exact": "CLOSED"}, {TX}),
        ({"status__exact": "ACTIVATED"}, {OTHER}),
        ({"payment_gateway__exact": "NPG"}, {TX}),
        ({"client_id__exact": "IO"}, {OTHER}),
        ({"created_at__year": "2023"}, {TX}),
    ],
)
def test_search_and_filters(operator, two_transactions, query, expected):
    response = operator.get(CHANGELIST, query)
    assert response.status_code == 200
    assert listed(response) == expected


def test_the_change_page_shows_view_fields_and_the_event_timeline(operator, two_transactions):
    response = operator.get(f"{CHANGELIST}{TX}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "transaction-events" in content
    positions = [
        content.index(code)
        for code in (
            "#1 TRANSACTION_ACTIVATED_EVENT",
            "#2 TRANSACTION_AUTHORIZATION_REQUESTED_EVENT",
            "#5 TRANSACTION_CLOSED_EVENT",
        )
    ]
    assert positions == sorted(positions)
    assert "&quot;responseOutcome&quot;: &quot;OK&quot;" in content
    assert "231234567890" in content  # rrn
    assert "NOT_RECEIVED" in content


def test_the_admin_is_read_only(operator, two_transactions):
    assert operator.get(f"{CHANGELIST}add/").status_code == 403
    assert operator.post(f"{CHANGELIST}{TX}/delete/").status_code == 403
    change_page = operator.get(f"{CHANGELIST}{TX}/change/").content.decode()
    assert 'name="_save"' not in change_page


def test_the_event_admin_lists_and_shows_events(operator, two_transactions):
    response = operator.get("/admin/transactions/transactionevent/", {"q": TX})
    assert response.status_code == 200
    assert response.content.decode().count("TRANSACTION_") >= 5
    event_id = history("activated")[0].id  # a fresh id is not stored: exact search finds nothing
    assert (
        "0 transaction events"
        in operator.get("/admin/transactions/transactionevent/", {"q": event_id}).content.decode()
    )
