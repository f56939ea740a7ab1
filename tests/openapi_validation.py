"""Every HTTP response the test suite receives is checked against the OpenAPI document (issue 14).

A middleware added in front of the project's own for the whole session sees every request the test
client and the live server make, and openapi-core (the maintained validator of OpenAPI 3.0/3.1
requests and responses, with a Django adapter) checks each answer:
1. responses of the admin and its static files, and of tests that swap in their own URLconf, are not
   API answers and are skipped;
2. a path no route serves must be answered with a JSON 4xx (its format is tested in tests/api);
3. a routed path must be documented (else: "undocumented path", with where to document it), its method
   too unless the answer is a 405 (a concrete path wins over a template, as OpenAPI says), and the
   status and body must match that operation's response.
Problems are collected and fail the test that caused them, at its teardown, so none goes unseen
whether the client was Django's or `requests` against the live server.
"""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from openapi_core import Config, OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

from dispatcher_site.api_errors import is_json
from dispatcher_site.error_formats import error_format_for
from dispatcher_site.openapi import openapi_document

PROJECT_URLCONF = "dispatcher_site.urls"
MIDDLEWARE = "tests.openapi_validation.OpenApiResponseCheck"

problems: list[str] = []


@functools.cache
def openapi() -> OpenAPI:
    # openapi-core reads application/json only; the receiver and transactions APIs answer problem+json.
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(openapi_document(), config=config)


class ResponseCheckRequest(DjangoOpenAPIRequest):
    """The request as openapi-core reads it to find the operation. Neither host nor body take part in a
    response check, and reading them raises for requests refused for their Host header or their size."""

    @property
    def host_url(self) -> str:
        return "http://testserver"

    @property
    def body(self) -> bytes:
        return b""


def response_problem(request: HttpRequest, response: HttpResponse) -> str | None:
    """What is wrong with this answer, by the rules of the module docstring; None when nothing is."""
    if settings.ROOT_URLCONF != PROJECT_URLCONF or error_format_for(request.path) is None:
        return None
    where = f"{request.method} {request.path} -> {response.status_code}"
    try:
        resolve(request.path_info, PROJECT_URLCONF)
    except Resolver404:
        if 400 <= response.status_code < 500 and is_json(response):
            return None
        return f"{where}: a path no route serves must get a JSON 4xx"
    # OpenAPI matches a concrete path before a template (GET /v2/notifications/sms is not getNotification);
    # openapi-core would try the template.
    concrete = openapi_document()["paths"].get(request.path)
    if concrete is not None and request.method.lower() not in concrete:
        return None if response.status_code == 405 else f"{where}: undocumented method; document it in its app"
    try:
        openapi().validate_response(ResponseCheckRequest(request), DjangoOpenAPIResponse(response))
    except PathNotFound:
        return f"{where}: undocumented path; document it in the openapi.yaml of the app that serves it"
    except OperationNotFound:
        if response.status_code == 405:
            return None
        return f"{where}: undocumented method; document it in the openapi.yaml of the app that serves it"
    except OpenAPIError as error:
        details = "; ".join(str(e) for e in getattr(error, "schema_errors", ())) or repr(error)
        return f"{where}: does not match the OpenAPI document: {error}: {details}: {response.content[:500]!r}"
    return None


class OpenApiResponseCheck:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        problem = response_problem(request, response)
        if problem:
            problems.append(problem)
        return response
