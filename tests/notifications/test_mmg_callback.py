"""POST /notifications/sms/mmg: JSON receipts, every code mapped (unknown ones to failed), exactly once."""

import json
import uuid

import pytest
from django.test import override_settings

from tests.notifications.conftest import statistics_of

URL = "/notifications/sms/mmg"


def post(client, body, **kwargs):
    content = body if isinstance(body, str) else json.dumps(body)
    return client.post(URL, content, content_type="application/json", **kwargs)


def receipt(notification_id, status):
    return {
        "reference": "mmg-own-id",
        "CID": str(notification_id),
        "MSISDN": "447777349060",
        "status": status,
        "deliverytime": "2016-04-05 16:01:07",
    }


@pytest.mark.parametrize(
    ("code", "status", "counter"),
    [
        ("2", "permanent-failure", "sms_failed"),
        ("3", "delivered", "sms_delivered"),
        (3, "delivered", "sms_delivered"),
        ("4", "temporary-failure", "sms_failed"),
        ("5", "permanent-failure", "sms_failed"),
        ("10", "failed", "sms_failed"),
        ("blah", "failed", "sms_failed"),
    ],
)
def test_each_mmg_code_sets_its_status_and_counter(client, make_notification, code, status, counter):
    notification = make_notification(status="sending")

    response = post(client, receipt(notification.id, code))

    assert response.status_code == 200
    assert response.json() == {
        "result": "success",
        "message": f"MMG callback succeeded. reference {notification.id} updated",
    }
    notification.refresh_from_db()
    assert notification.status == status
    assert notification.provider_status == str(code)
    assert statistics_of(notification)[counter] == 1


def test_missing_status_and_cid_answer_400_with_two_messages_in_order(client, db):
    response = post(client, {"reference": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "result": "error",
        "message": ["MMG callback failed: status missing", "MMG callback failed: CID missing"],
    }


def test_status_zero_counts_as_present(client, make_notification):
    notification = make_notification(status="sending")
    response = post(client, receipt(notification.id, 0))
    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.status == "failed"


@pytest.mark.parametrize("body", ["not json", "[1, 2]"])
def test_a_body_that_is_not_a_json_object_answers_400(client, db, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json() == {"result": "error", "message": "MMG callback failed: invalid json"}


@pytest.mark.parametrize("cid", ["not-a-uuid", 12345])
def test_a_cid_that_is_not_a_uuid_string_answers_400(client, db, cid):
    response = post(client, {"status": "3", "CID": cid})
    assert response.status_code == 400
    assert response.json()["message"] == f"MMG callback with invalid reference {cid}"


def test_send_sms_code_answers_200(client, db):
    response = post(client, {"status": "3", "CID": "send-sms-code"})
    assert response.json() == {"result": "success", "message": "MMG callback succeeded: send-sms-code"}


def test_an_unknown_notification_answers_404(client, db):
    missing = uuid.uuid4()
    response = post(client, receipt(missing, "3"))
    assert response.status_code == 404
    assert response.json()["message"] == f"MMG callback failed: notification {missing} not found. Status Delivered"


def test_a_conflicting_second_receipt_is_ignored_and_not_counted(client, make_notification):
    notification = make_notification(status="sending")
    post(client, receipt(notification.id, "3"))
    response = post(client, receipt(notification.id, "5"))
    assert response.status_code == 200
    assert response.json()["message"] == f"MMG callback ignored: notification {notification.id} already delivered"
    notification.refresh_from_db()
    assert notification.status == "delivered"
    assert statistics_of(notification)["sms_failed"] == 0
    assert statistics_of(notification)["sms_delivered"] == 1


def test_permanent_failure_after_pending_becomes_temporary_failure(client, make_notification):
    notification = make_notification(status="pending")
    post(client, receipt(notification.id, "5"))
    notification.refresh_from_db()
    assert notification.status == "temporary-failure"


def test_a_configured_token_is_required(client, make_notification, settings):
    notification = make_notification(status="sending")
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(MMG_CALLBACK_TOKEN="mmg-token")):
        refused = post(client, receipt(notification.id, "3"))
        accepted = post(client, receipt(notification.id, "3"), headers={"Authorization": "Bearer mmg-token"})
    assert refused.status_code == 401
    assert refused.json()["message"] == "MMG callback failed: unauthorised"
    assert accepted.status_code == 200
