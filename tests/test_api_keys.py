"""x-api-key on the secured path prefixes: primary and secondary accepted, anything else a 401 problem."""

import pytest
from django.http import JsonResponse
from django.test import override_settings
from django.urls import path


def secured_view(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("event-dispatcher/probe", secured_view), path("open/probe", secured_view)]

pytestmark = pytest.mark.urls(__name__)


@pytest.mark.parametrize("key", ["test-primary-api-key", "test-secondary-api-key"])
def test_primary_and_secondary_keys_are_accepted(client, key):
    assert client.get("/event-dispatcher/probe", headers={"x-api-key": key}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"x-api-key": ""}, {"x-api-key": "test-primary-api-ke"}, {"x-api-key": "x"}])
def test_missing_or_wrong_key_is_refused_with_a_problem_naming_the_header(client, headers):
    response = client.get("/event-dispatcher/probe", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "A valid x-api-key header is required."


def test_paths_outside_the_secured_prefixes_need_no_key(client):
    assert client.get("/open/probe").status_code == 200


def test_empty_secondary_key_never_matches_an_empty_header(client, settings):
    with override_settings(DISPATCHER=settings.DISPATCHER.replace(SECURITY_API_KEYS_SECONDARY="")):
        assert client.get("/event-dispatcher/probe", headers={"x-api-key": ""}).status_code == 401
