"""The read-only transactions admin: search, filters, and a change page with the event timeline."""

import dataclasses
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from receivers.models import DeadLetterEvent
from tests.transactions.factories import TX, C, activated, make_event
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


def test_the_list_shows_age_time_in_status_euro_and_one_named_zone(operator, two_transactions):
    content = operator.get(CHANGELIST).content.decode()

    row = content[content.index(f"/{TX}/change/") :].split("</tr>")[0]
    assert re.search(r"\d+ d \d+ h", row), "CLOSED since 2023: days in status"
    assert "€" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)", row)


def test_the_stuck_filter_keeps_transient_transactions_older_than_the_choice(operator, two_transactions):
    stuck = listed(operator.get(CHANGELIST, {"stuck": "60"}))
    filter_panel = operator.get(CHANGELIST).content.decode()

    assert stuck == {TX}, "CLOSED for years is stuck; ACTIVATED a moment ago is not"
    assert "stuck for more than" in filter_panel
    assert "?stuck=90" in filter_panel, "the dashboard's threshold is one of the choices"


def test_the_timeline_shows_fields_that_matter_and_folds_the_raw_json(operator, two_transactions):
    content = operator.get(f"{CHANGELIST}{TX}/change/").content.decode()

    closed_item = content[content.index("#5 TRANSACTION_CLOSED_EVENT") :].split("</li>")[0]
    assert "responseOutcome: <strong>OK</strong>" in closed_item
    assert "<details><summary>raw JSON</summary>" in closed_item
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST)", closed_item)


@pytest.mark.django_db(transaction=True)
def test_the_page_links_its_dead_letters_and_the_requeue_of_a_pending_one(operator, two_transactions):
    for index, state in enumerate(("NEW", "RESOLVED")):
        DeadLetterEvent.store(
            {
                "id": f"dl-{index}",
                "category": "RETRY_EVENT_NO_ATTEMPTS_LEFT",
                "source_queue": "close-payment-retry",
                "transaction_id": TX,
                "dead_lettered_at": timezone.now(),
                "original_message": f"text {index}",
                "dead_letter_message": "{}",
                "state": state,
            }
        )

    page = operator.get(f"{CHANGELIST}{TX}/change/").content.decode()
    listing = operator.get(CHANGELIST).content.decode()

    assert "/admin/receivers/deadletterevent/dl-0/change/" in page
    assert "/admin/receivers/deadletterevent/dl-1/change/" in page
    assert "/admin/receivers/deadletterevent/dl-0/requeue/" in page
    assert "/admin/receivers/deadletterevent/dl-1/requeue/" not in page
    assert f"transaction_id__exact={TX}&amp;state__exact=NEW" in listing


def test_the_list_costs_the_same_queries_for_few_or_many_transactions(operator, two_transactions):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator.get(CHANGELIST, {"stuck": "60"}).status_code == 200
        return len(captured)

    few = queries()
    for index in range(25):
        transaction_id = f"{index:032x}"
        for code in (C.TRANSACTION_ACTIVATED_EVENT, C.TRANSACTION_AUTHORIZATION_REQUESTED_EVENT):
            store_incoming_event(make_event(code, transaction_id=transaction_id))

    assert len(listed_ids(operator.get(CHANGELIST, {"stuck": "60"}))) == 26
    assert queries() == few


def listed_ids(response) -> set[str]:
    return set(re.findall(r"/admin/transactions/transaction/([0-9a-f]{32})/change/", response.content.decode()))
