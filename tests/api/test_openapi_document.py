"""The OpenAPI document: valid OpenAPI 3.1, served at /openapi.json, and listing every route the project
serves (and nothing it does not), so a new endpoint cannot go undocumented."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from dispatcher_site.openapi import OpenApiMergeError, merge, openapi_document

NOT_APIS = ("admin/",)


def routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the project's URLconf as an OpenAPI path template."""
    found = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return found


def test_the_document_is_valid_openapi_3_1():
    document = openapi_document()

    validate(document)
    assert document["openapi"].startswith("3.1")


def test_it_is_served_at_openapi_json(client):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert response.json() == openapi_document()


def test_every_route_is_documented_and_every_documented_path_is_routed():
    served = {route for route in routes() if not route.lstrip("/").startswith(NOT_APIS)}

    assert sorted(served - set(openapi_document()["paths"])) == [], "document these in <app>/openapi.yaml"
    assert sorted(set(openapi_document()["paths"]) - served) == [], "documented but not routed"


def test_every_operation_has_an_id_a_tag_and_its_error_answers():
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), f"{method} {path}"
            assert operation.get("tags"), f"{method} {path}"
            assert "500" in operation["responses"], f"{method} {path} documents its 500"
            # Any request can be refused with 400: the NUL character in its path or query string.
            assert "400" in operation["responses"], f"{method} {path} documents its 400"
            # And with 414, a request line over the limit (ApiErrorMiddleware).
            assert "414" in operation["responses"], f"{method} {path} documents its 414"
            if "requestBody" in operation:
                assert {"400", "413"} <= set(operation["responses"]), f"{method} {path} documents 400 and 413"


def test_a_fragment_cannot_define_a_path_twice():
    document = {"paths": {"/x": {}}, "components": {}}

    with pytest.raises(OpenApiMergeError, match="paths /x is defined twice"):
        merge(document, {"paths": {"/x": {}}}, "app/openapi.yaml")


def test_a_fragment_cannot_define_a_component_twice():
    document = {"paths": {}, "components": {"schemas": {"Problem": {}}}}

    with pytest.raises(OpenApiMergeError, match=r"components\.schemas Problem is defined twice"):
        merge(document, {"components": {"schemas": {"Problem": {}}}}, "app/openapi.yaml")


@pytest.mark.django_db
def test_the_documented_request_example_is_stored(client, api_headers):
    operation = openapi_document()["paths"]["/event-dispatcher/transactions/events"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["activation"]["value"]

    response = client.post(
        "/event-dispatcher/transactions/events",
        json.dumps(example),
        content_type="application/json",
        headers=api_headers,
    )

    assert response.status_code == 200, response.json()
    assert response.json()["stored"][0]["alreadyStored"] is False
