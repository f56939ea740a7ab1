"""POST /notifications/sms/firetext: checks in the reference's order, exactly-once status and statistics."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from tests.notifications.conftest import statistics_of

URL = "/notifications/sms/firetext"


def post(client, notification_id=None, status="0", **extra):
    data = {"mobile": "441234123123", "status": status, "time": "2016-03-10 14:17:00", **extra}
    if notification_id is not None:
        data["reference"] = str(notification_id)
    return client.post(URL, data)


@pytest.mark.parametrize(
    ("code", "status", "counter"),
    [("0", "delivered", "sms_delivered"), ("1", "permanent-failure", "sms_failed"), ("2", "pending", None)],
)
def test_each_firetext_code_sets_its_status_and_counter(client, make_notification, code, status, counter):
    notification = make_notification(status="sending")
    before = statistics_of(notification)

    response = post(client, notification.id, code)

    assert response.status_code == 200
    assert response.json() == {
        "result": "success",
        "message": f"Firetext callback succeeded. reference {notification.id} updated",
    }
    notification.refresh_from_db()
    assert notification.status == status
    assert notification.provider_status == code
    expected = dict(before)
    if counter:
        expected[counter] += 1
    assert statistics_of(notification) == expected


def test_a_receipt_can_update_a_notification_still_created(client, make_notification):
    notification = make_notification(status="created")
    assert post(client, notification.id, "0").status_code == 200
    notification.refresh_from_db()
    assert notification.status == "delivered"


def test_declined_after_pending_is_stored_as_temporary_failure_and_counted_once(client, make_notification):
    notification = make_notification(status="sending")
    post(client, notification.id, "2")
    response = post(client, notification.id, "1")

    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.status == "temporary-failure"
    assert statistics_of(notification)["sms_failed"] == 1
    assert statistics_of(notification)["sms_delivered"] == 0


def test_pending_twice_then_delivered_counts_one_delivery(client, make_notification):
    notification = make_notification(status="sending")
    for code in ("2", "2", "0"):
        assert post(client, notification.id, code).status_code == 200
    notification.refresh_from_db()
    assert notification.status == "delivered"
    assert statistics_of(notification)["sms_delivered"] == 1


@pytest.mark.parametrize("second_code", ["0", "1", "2"])
def test_a_receipt_for_a_final_notification_is_ignored_with_200(client, make_notification, second_code):
    notification = make_notification(status="sending")
    post(client, notification.id, "0")
    after_first = statistics_of(notification)

    response = post(client, notification.id, second_code)

    assert response.status_code == 200
    assert response.json() == {
        "result": "success",
        "message": f"Firetext callback ignored: notification {notification.id} already delivered",
    }
    notification.refresh_from_db()
    assert notification.status == "delivered"
    assert notification.provider_status == "0"
    assert statistics_of(notification) == after_first


def test_an_unknown_notification_answers_404(client, db):
    missing = uuid.uuid4()
    response = post(client, missing, "0")
    assert response.status_code == 404
    assert response.json() == {
        "result": "error",
        "message": f"Firetext callback failed: notification {missing} not found. Status Delivered",
    }


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({}, ["Firetext callback failed: status missing", "Firetext callback failed: reference missing"]),
        ({"status": "0"}, ["Firetext callback failed: reference missing"]),
        ({"reference": "x", "status": ""}, ["Firetext callback failed: status missing"]),
    ],
)
def test_missing_fields_answer_400_with_a_list_in_order(client, db, data, messages):
    response = client.post(URL, data)
    assert response.status_code == 400
    assert response.json() == {"result": "error", "message": messages}


def test_a_reference_that_is_not_a_uuid_answers_400(client, db):
    response = client.post(URL, {"status": "0", "reference": "not-a-uuid"})
    assert response.status_code == 400
    assert response.json()["message"] == "Firetext callback with invalid reference not-a-uuid"


def test_an_unknown_status_answers_400_and_changes_nothing(client, make_notification):
    notification = make_notification(status="sending")
    response = post(client, notification.id, "99")
    assert response.status_code == 400
    assert response.json()["message"] == "Firetext callback failed: status 99 not found."
    notification.refresh_from_db()
    assert notification.status == "sending"


def test_a_reference_without_hyphens_is_accepted(client, make_notification):
    notification = make_notification(status="sending")
    assert post(client, notification.id.hex, "0").status_code == 200
    assert Notification.objects.get(id=notification.id).status == "delivered"


def test_send_sms_code_answers_200_without_touching_the_database(client, db):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(URL, {"status": "0", "reference": "send-sms-code"})
    assert response.status_code == 200
    assert response.json() == {"result": "success", "message": "Firetext callback succeeded: send-sms-code"}
    assert len(queries) == 0


def test_the_extended_code_is_stored_for_audit(client, make_notification):
    notification = make_notification(status="sending")
    post(client, notification.id, "1", code="101")
    notification.refresh_from_db()
    assert (notification.provider_status, notification.provider_code) == ("1", "101")


def test_the_counter_is_the_one_of_the_day_the_notification_was_created(client, make_notification):
    notification = make_notification(status="sending", created_at=datetime(2016, 1, 1, 23, 59, 59, 999999, tzinfo=UTC))
    post(client, notification.id, "0")
    assert statistics_of(notification)["sms_delivered"] == 1
    assert statistics_of(notification)["sms_requested"] == 1


def statement_kinds(queries) -> list[str]:
    return [q["sql"].split()[0] for q in queries]


# transactional_db: the callback's transaction is then the outermost one, as in production (no savepoints).
@pytest.mark.parametrize(("code", "statistics"), [("0", True), ("1", True), ("2", False)])
@pytest.mark.django_db(transaction=True)
def test_a_receipt_takes_at_most_four_statements_begin_and_commit_included(client, make_notification, code, statistics):
    """The conditional update returns what the statistics need: no read, no connection check (issue 15)."""
    notification = make_notification(status="sending")
    with CaptureQueriesContext(connection) as queries:
        assert post(client, notification.id, code).status_code == 200
    expected = ["BEGIN", "UPDATE", "UPDATE", "COMMIT"] if statistics else ["BEGIN", "UPDATE", "COMMIT"]
    assert statement_kinds(queries) == expected, [q["sql"] for q in queries]
    assert "RETURNING" in queries[1]["sql"]


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_changes_nothing_then_reads_which_notification_it_was(client, make_notification):
    notification = make_notification(status="delivered")
    with CaptureQueriesContext(connection) as queries:
        assert post(client, notification.id, "0").status_code == 200
    assert statement_kinds(queries) == ["BEGIN", "UPDATE", "COMMIT", "SELECT"], [q["sql"] for q in queries]


def test_get_is_not_allowed(client, db):
    assert client.get(URL).status_code == 405


class TestToken:
    @pytest.fixture(autouse=True)
    def token(self, settings):
        with override_settings(DISPATCHER=settings.DISPATCHER.replace(FIRETEXT_CALLBACK_TOKEN="s3cret")):
            yield

    @pytest.mark.parametrize("query", ["", "?token=wrong"])
    def test_a_callback_without_the_token_is_refused_with_401(self, client, make_notification, query):
        notification = make_notification(status="sending")
        response = client.post(URL + query, {"status": "0", "reference": str(notification.id)})
        assert response.status_code == 401
        assert response.json() == {"result": "error", "message": "Firetext callback failed: unauthorised"}
        notification.refresh_from_db()
        assert notification.status == "sending"

    def test_the_token_is_accepted_as_a_query_parameter(self, client, make_notification):
        notification = make_notification(status="sending")
        response = client.post(URL + "?token=s3cret", {"status": "0", "reference": str(notification.id)})
        assert response.status_code == 200

    def test_the_token_is_accepted_as_a_bearer_header(self, client, make_notification):
        notification = make_notification(status="sending")
        response = client.post(
            URL, {"status": "0", "reference": str(notification.id)}, headers={"Authorization": "Bearer s3cret"}
        )
        assert response.status_code == 200
