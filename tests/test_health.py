"""Liveness and readiness against the real database, Redis and Azurite, and against dead ports."""

import pytest
from django.test import override_settings

from dispatcher_site.local_servers import azurite_connection_string, free_port

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_touching_dependencies(client):
    response = client.get("/health/liveness")
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}


def test_readiness_is_up_when_every_dependency_answers(client):
    response = client.get("/health/readiness")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {
        "database": "up",
        "redis": "up",
        "queue_service": "up",
        "dead_letter_queue_service": "up",
    }


def test_readiness_names_redis_when_it_does_not_answer(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/health/readiness")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "DOWN"
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"].startswith("down: ")


@pytest.mark.parametrize(
    ("variable", "check"),
    [
        ("QUEUE_TRANSIENT_CONNECTION_STRING", "queue_service"),
        ("QUEUE_DEADLETTER_CONNECTION_STRING", "dead_letter_queue_service"),
    ],
)
def test_readiness_names_the_storage_account_that_does_not_answer(client, settings, variable, check):
    dead = azurite_connection_string(free_port())
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(**{variable: dead})):
        response = client.get("/health/readiness")
    assert response.status_code == 503
    assert response.json()["failed"] == [check]


def test_health_is_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/liveness").status_code == 200
    assert client.get("/admin/login/").status_code == 301
