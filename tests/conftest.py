"""Fixtures shared by every test: Redis emptied per test, queues created, environment for subprocesses,
and every HTTP response checked against the OpenAPI document (tests/openapi_validation.py)."""

import os
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from receivers.queues import create_all_queues
from tests import openapi_validation

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def openapi_response_checks():
    """The response check runs in front of the project's middleware for the whole session."""
    settings.MIDDLEWARE = [openapi_validation.MIDDLEWARE, *settings.MIDDLEWARE]


@pytest.fixture(autouse=True)
def responses_match_the_openapi_document(openapi_response_checks):
    """Fails the test that received a response the OpenAPI document does not describe."""
    openapi_validation.problems.clear()
    yield
    found = list(openapi_validation.problems)
    openapi_validation.problems.clear()
    if found:
        pytest.fail("responses that do not match the OpenAPI document:\n" + "\n".join(found), pytrace=False)


@pytest.fixture(autouse=True)
def redis_client():
    """The tests' own Redis database, emptied before each test."""
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def queues_created(django_db_blocker):
    create_all_queues()


@pytest.fixture
def api_headers():
    return {"x-api-key": settings.DISPATCHER.SECURITY_API_KEYS_PRIMARY}


@pytest.fixture
def subprocess_env(transactional_db):
    """Environment for a `manage.py` subprocess that must see the test database and servers."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        url = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**database)
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def manage_py():
    return [sys.executable, str(PROJECT_ROOT / "manage.py")]


@pytest.fixture(scope="session")
def span_exporter():
    """An in-memory exporter (a real SDK component) on the SDK tracer provider, installed when none is yet."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(span_exporter):
    """The exporter, emptied before the test."""
    span_exporter.clear()
    return span_exporter


# The receivers' consumer fixtures, for tests elsewhere that run real consumer processes.
from tests.receivers.conftest import queues, start_consumer  # noqa: E402, F401
