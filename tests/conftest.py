"""Fixtures shared by every test: Redis emptied per test, queues created, environment for subprocesses."""

import os
import sys
from pathlib import Path

import pytest
import redis
from django.conf import settings

from receivers.queues import create_all_queues

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
