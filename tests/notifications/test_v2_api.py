"""The v2 API over HTTP with tokens made like Notify's clients make them: sending, reading, errors, auth."""

import time
import uuid
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone
from notifications_python_client.authentication import create_jwt_token

from notifications.models import ApiKey, Notification, Service
from tests.notifications.conftest import statistics_of


def auth(api_key: str, **claims) -> dict:
    service_id, secret = api_key[-73:-37], api_key[-36:]
    if claims:
        token = jwt.encode({"iss": service_id, "iat": int(time.time()), **claims}, secret, algorithm="HS256")
    else:
        token = create_jwt_token(secret, service_id)
    return {"Authorization": f"Bearer {token}"}


def post_sms(client, api_key, body):
    return client.post("/v2/notifications/sms", body, content_type="application/json", headers=auth(api_key))


def errors(response) -> list[str]:
    data = response.json()
    assert data["status_code"] == response.status_code
    return [e["message"] for e in data["errors"]]


def test_an_sms_is_created_rendered_counted_and_left_created(client, api_key, sms_template, service):
    body = {
        "phone_number": "07700 900123",
        "template_id": str(sms_template.id),
        "personalisation": {"Name": "Ada", "code": 42},
        "reference": "my-ref",
    }
    response = post_sms(client, api_key, body)

    assert response.status_code == 201
    data = response.json()
    notification = Notification.objects.get(id=data["id"])
    assert data["reference"] == "my-ref"
    assert data["content"] == {"body": "Hello Ada, code 42", "from_number": "TESTSENDER"}
    assert data["uri"] == f"http://testserver/v2/notifications/{notification.id}"
    assert data["template"]["id"] == str(sms_template.id)
    assert data["template"]["version"] == 1
    assert notification.status == "created"
    assert notification.to == "07700 900123"
    assert notification.client_reference == "my-ref"
    assert statistics_of(notification)["sms_requested"] == 1


def test_an_email_is_created_with_subject_and_from_address(client, api_key, email_template, service):
    body = {
        "email_address": "ada@example.com",
        "template_id": str(email_template.id),
        "personalisation": {"name": "Ada"},
    }
    response = client.post("/v2/notifications/email", body, content_type="application/json", headers=auth(api_key))

    assert response.status_code == 201
    content = response.json()["content"]
    assert content == {
        "body": "Dear Ada, welcome.",
        "subject": "Hi Ada",
        "from_email": "test.service@notifications.localhost",
    }
    notification = Notification.objects.get(id=response.json()["id"])
    assert statistics_of(notification)["emails_requested"] == 1


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({}, ["phone_number is a required property", "template_id is a required property"]),
        ({"phone_number": "07700900123", "template_id": "nope"}, ["template_id is not a valid UUID"]),
        (
            {"phone_number": "0770090012a", "template_id": str(uuid.uuid4())},
            ["phone_number Must not contain letters or symbols"],
        ),
        ({"phone_number": "0770", "template_id": str(uuid.uuid4())}, ["phone_number Not enough digits"]),
        (
            {"phone_number": "07700900123", "template_id": str(uuid.uuid4()), "personalisation": [1]},
            ["personalisation [1] is not of type object"],
        ),
        ({"phone_number": None, "template_id": str(uuid.uuid4())}, ["phone_number None is not of type string"]),
    ],
)
def test_invalid_requests_get_validation_errors(client, api_key, body, messages):
    response = post_sms(client, api_key, body)
    assert response.status_code == 400
    assert errors(response) == messages
    assert response.json()["errors"][0]["error"] == "ValidationError"
    assert not Notification.objects.exists()


def test_invalid_json_is_a_bad_request(client, api_key):
    response = post_sms(client, api_key, "{nope")
    assert response.status_code == 400
    assert errors(response) == ["Invalid JSON supplied in POST data"]


def test_an_unknown_template_is_a_bad_request(client, api_key):
    response = post_sms(client, api_key, {"phone_number": "07700900123", "template_id": str(uuid.uuid4())})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"error": "BadRequestError", "message": "Template not found"}]


def test_a_template_of_the_other_type_is_refused(client, api_key, email_template):
    response = post_sms(client, api_key, {"phone_number": "07700900123", "template_id": str(email_template.id)})
    assert errors(response) == ["email template is not suitable for sms notification"]


def test_missing_personalisation_is_refused(client, api_key, sms_template):
    response = post_sms(client, api_key, {"phone_number": "07700900123", "template_id": str(sms_template.id)})
    assert response.status_code == 400
    assert errors(response) == ["Missing personalisation: name, code"]


def test_a_notification_keeps_the_template_version_it_was_made_with(client, api_key, sms_template):
    sms_template.content = "New text ((name)) ((code))"
    sms_template.save()
    body = {
        "phone_number": "07700900123",
        "template_id": str(sms_template.id),
        "personalisation": {"name": "A", "code": 1},
    }
    response = post_sms(client, api_key, body)
    assert response.json()["template"]["version"] == 2


class TestAuthentication:
    def test_no_header_is_401(self, client, db):
        response = client.get("/v2/notifications")
        assert response.status_code == 401
        assert response.json()["errors"] == [
            {"error": "AuthError", "message": "Unauthorized: authentication token must be provided"}
        ]

    def test_a_non_bearer_scheme_is_401(self, client, db):
        response = client.get("/v2/notifications", headers={"Authorization": "Basic abc"})
        assert errors(response) == ["Unauthorized: authentication bearer scheme must be used"]

    def test_a_token_signed_with_another_secret_is_403(self, client, service, api_key):
        wrong = api_key[:-36] + str(uuid.uuid4())
        response = client.get("/v2/notifications", headers=auth(wrong))
        assert response.status_code == 403
        assert errors(response) == ["Invalid token: API key not found"]

    def test_a_revoked_key_is_403(self, client, service, api_key):
        ApiKey.objects.get(service=service).revoke()
        response = client.get("/v2/notifications", headers=auth(api_key))
        assert errors(response) == ["Invalid token: API key revoked"]

    @pytest.mark.parametrize("skew", [-31 - 5, 31 + 5])
    def test_a_token_outside_30_seconds_is_403(self, client, api_key, skew):
        response = client.get("/v2/notifications", headers=auth(api_key, iat=int(time.time()) + skew))
        assert response.status_code == 403
        assert errors(response) == ["Error: Your system clock must be accurate to within 30 seconds"]

    def test_a_token_within_30_seconds_is_accepted(self, client, api_key):
        response = client.get("/v2/notifications", headers=auth(api_key, iat=int(time.time()) - 20))
        assert response.status_code == 200

    def test_an_unknown_service_is_403(self, client, db):
        key = f"k-{uuid.uuid4()}-{uuid.uuid4()}"
        assert errors(client.get("/v2/notifications", headers=auth(key))) == ["Invalid token: service not found"]

    def test_an_inactive_service_is_403(self, client, service, api_key):
        Service.objects.filter(id=service.id).update(active=False)
        assert errors(client.get("/v2/notifications", headers=auth(api_key))) == ["Invalid token: service is archived"]

    def test_garbage_is_403(self, client, db):
        response = client.get("/v2/notifications", headers={"Authorization": "Bearer garbage"})
        assert response.status_code == 403
        assert errors(response) == ["Invalid token: signature, api token is not valid"]

    def test_another_services_notification_is_not_found(self, client, api_key, make_notification, db):
        other = Service.objects.create(name="Other", email_from="other@example.com")
        notification = make_notification(target_service=other)
        response = client.get(f"/v2/notifications/{notification.id}", headers=auth(api_key))
        assert response.status_code == 404
        assert response.json()["errors"] == [{"error": "NoResultFound", "message": "No result found"}]


def test_get_one_notification(client, api_key, make_notification):
    notification = make_notification(status="delivered")
    Notification.objects.filter(id=notification.id).update(updated_at=notification.created_at, client_reference="r1")
    response = client.get(f"/v2/notifications/{notification.id}", headers=auth(api_key))
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == str(notification.id)
    assert data["status"] == "delivered"
    assert data["type"] == "sms"
    assert data["phone_number"] == "07700900000"
    assert data["email_address"] is None
    assert data["reference"] == "r1"
    assert data["completed_at"] == notification.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_get_one_notification_with_a_bad_id_is_400(client, api_key):
    response = client.get("/v2/notifications/not-a-uuid", headers=auth(api_key))
    assert response.status_code == 400
    assert errors(response) == ["notification_id is not a valid UUID"]


class TestListing:
    @pytest.fixture
    def notifications(self, make_notification):
        now = timezone.now()
        return [
            make_notification(status="delivered", created_at=now - timedelta(minutes=3)),
            make_notification(status="permanent-failure", created_at=now - timedelta(minutes=2)),
            make_notification(status="sending", notification_type="email", created_at=now - timedelta(minutes=1)),
        ]

    def ids(self, response) -> list[str]:
        assert response.status_code == 200, response.content
        return [n["id"] for n in response.json()["notifications"]]

    def test_newest_first_with_current_and_next_links(self, client, api_key, notifications):
        response = client.get("/v2/notifications", headers=auth(api_key))
        assert self.ids(response) == [str(n.id) for n in reversed(notifications)]
        links = response.json()["links"]
        assert links["current"] == "http://testserver/v2/notifications"
        assert links["next"] == f"http://testserver/v2/notifications?older_than={notifications[0].id}"

    def test_older_than_pages_and_the_last_page_has_no_next(self, client, api_key, notifications):
        response = client.get(f"/v2/notifications?older_than={notifications[1].id}", headers=auth(api_key))
        assert self.ids(response) == [str(notifications[0].id)]
        last = client.get(f"/v2/notifications?older_than={notifications[0].id}", headers=auth(api_key))
        assert self.ids(last) == []
        assert "next" not in last.json()["links"]

    def test_filter_by_template_type(self, client, api_key, notifications):
        response = client.get("/v2/notifications?template_type=email", headers=auth(api_key))
        assert self.ids(response) == [str(notifications[2].id)]

    def test_failed_means_every_failure(self, client, api_key, notifications):
        response = client.get("/v2/notifications?status=failed", headers=auth(api_key))
        assert self.ids(response) == [str(notifications[1].id)]

    def test_several_statuses(self, client, api_key, notifications):
        response = client.get("/v2/notifications?status=delivered&status=sending", headers=auth(api_key))
        assert self.ids(response) == [str(notifications[2].id), str(notifications[0].id)]

    def test_filter_by_reference(self, client, api_key, notifications):
        Notification.objects.filter(id=notifications[0].id).update(client_reference="abc")
        assert self.ids(client.get("/v2/notifications?reference=abc", headers=auth(api_key))) == [
            str(notifications[0].id)
        ]

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            (
                "status=elephant",
                "status elephant is not one of [created, sending, delivered, pending, failed, "
                "technical-failure, temporary-failure, permanent-failure]",
            ),
            ("template_type=letter", "template_type letter is not one of [sms, email]"),
            ("older_than=nope", "older_than is not a valid UUID"),
            ("older_than=", "older_than is not a valid UUID"),
        ],
    )
    def test_bad_filters_are_400(self, client, api_key, query, message):
        response = client.get(f"/v2/notifications?{query}", headers=auth(api_key))
        assert response.status_code == 400
        assert errors(response) == [message]
