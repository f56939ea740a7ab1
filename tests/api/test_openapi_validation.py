"""The check every test's responses go through (tests/openapi_validation.py) catches an undocumented path,
an undocumented method, an undocumented status and a body that does not match its schema."""

import copy

import pytest
from openapi_core import OpenAPI

from dispatcher_site.openapi import openapi_document
from tests import openapi_validation


@pytest.fixture
def document(monkeypatch):
    """A copy of the OpenAPI document the check uses instead, for the test to take things out of."""
    edited = copy.deepcopy(openapi_document())
    monkeypatch.setattr(openapi_validation, "openapi_document", lambda: edited)
    monkeypatch.setattr(openapi_validation, "openapi", lambda: OpenAPI.from_dict(edited))
    return edited


def reported() -> list[str]:
    """What the check found; taken away so the test itself does not fail on it."""
    found = list(openapi_validation.problems)
    openapi_validation.problems.clear()
    return found


def test_a_documented_answer_passes(client, document):
    client.get("/health/liveness")

    assert reported() == []


def test_an_undocumented_path_is_reported_with_where_to_document_it(client, document):
    del document["paths"]["/health/liveness"]

    client.get("/health/liveness")

    assert reported() == [
        "GET /health/liveness -> 200: undocumented path; document it in the openapi.yaml of the app that serves it"
    ]


def test_an_undocumented_method_is_reported_unless_answered_405(client, document):
    document["paths"]["/health/liveness"]["post"] = document["paths"]["/health/liveness"].pop("get")

    client.get("/health/liveness")
    assert "undocumented method" in reported()[0]

    client.put("/health/liveness")
    assert reported() == []


def test_an_undocumented_status_is_reported(client, document):
    del document["paths"]["/health/liveness"]["get"]["responses"]["200"]

    client.get("/health/liveness")

    assert "Unknown response http status: 200" in reported()[0]


def test_a_body_that_does_not_match_its_schema_is_reported(client, document):
    schema = document["paths"]["/health/liveness"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema["properties"]["status"] = {"const": "DOWN"}

    client.get("/health/liveness")

    assert "does not match the OpenAPI document" in reported()[0]


def test_an_unrouted_path_needs_a_json_4xx(client, document):
    client.get("/no-such-page")

    assert reported() == []
