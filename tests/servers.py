"""pytest plugin (loaded with `-p tests.servers`): real servers for the whole test session.

It runs before pytest-django reads the settings, because the settings are read once at start-up:
Azurite is started on a free port and its connection string exported, and the tests get their own
Redis database index (a local Redis is started when none answers on the configured address).
"""

import os
import subprocess

import pytest

from dispatcher_site import local_servers

_started: list[subprocess.Popen] = []

TEST_ENVIRONMENT = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "SECURITY_API_KEYS_PRIMARY": "test-primary-api-key",
    "SECURITY_API_KEYS_SECONDARY": "test-secondary-api-key",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "LOG_LEVEL": "WARNING",
    # SES callbacks are refused without a topic list (or a token) when debug is off: the tests' topic.
    "SES_CALLBACK_ALLOWED_TOPIC_ARNS": "arn:aws:sns:eu-west-1:123456789012:ses_notifications",
}


def _start_azurite() -> None:
    port = local_servers.free_port()
    _started.append(local_servers.start_azurite(port))
    connection_string = local_servers.azurite_connection_string(port)
    os.environ["QUEUE_TRANSIENT_CONNECTION_STRING"] = connection_string
    os.environ["QUEUE_DEADLETTER_CONNECTION_STRING"] = connection_string


def _ensure_redis() -> None:
    os.environ.setdefault("REDIS_DB", "15")
    host = os.environ.setdefault("REDIS_HOST", "127.0.0.1")
    port = int(os.environ.setdefault("REDIS_PORT", "6379"))
    if not local_servers.port_answers(host, port):
        port = local_servers.free_port()
        _started.append(local_servers.start_redis(port))
        os.environ.update({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port)})


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    _start_azurite()
    _ensure_redis()


def pytest_unconfigure(config):
    while _started:
        local_servers.stop(_started.pop())
