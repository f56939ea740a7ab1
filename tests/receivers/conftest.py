"""Fixtures for the receivers tests: empty queues, probe messages, consumers in-process and as processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from receivers import handlers
from receivers.handlers import HandlerRegistration, serialize_queue_event
from receivers.probe import probe_event
from receivers.queues import QUEUES, queue_client, send_text
from receivers.runtime import Consumer, ConsumerOptions

TRACEPARENT = "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"
WAIT_SECONDS = 30

# Short leases and polls keep the suite fast; handlers in tests take well under a second.
FAST_CONSUMER_ENV = {
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "text",
    "CONSUMER_POLL_INTERVAL_SECONDS": "0.05",
    "CONSUMER_MAX_POLL_INTERVAL_SECONDS": "0.2",
    "CONSUMER_VISIBILITY_TIMEOUT_SECONDS": "5",
    "RECEIVER_STATUS_REFRESH_SECONDS": "1",
}


def wait_until(condition: Callable[[], object], what: str, timeout: float = WAIT_SECONDS) -> object:
    """Poll until `condition()` is truthy; fail naming `what` after a generous timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def queues(queues_created):
    """Every registered queue, emptied before the test."""
    for key in QUEUES:
        queue_client(key).clear_messages()
    return QUEUES


def send_probe(data: dict | None = None, queue_key: str = "probe", **event_fields) -> dict:
    """Send a probe QueueEvent; return its event."""
    event = {**probe_event(data), **event_fields}
    send_text(queue_key, serialize_queue_event(event, {"traceparent": TRACEPARENT}))
    return event


def queue_texts(queue_key: str) -> list[str]:
    """The texts of the messages visible on a queue (peeked, so they stay)."""
    return [message.content for message in queue_client(queue_key).peek_messages(max_messages=32)]


def queue_length(queue_key: str) -> int:
    """Messages on the queue, visible or not."""
    return queue_client(queue_key).get_queue_properties().approximate_message_count


def hidden_dead_letters() -> int:
    """Messages kept on the dead-letter queue, none of them visible (stored, waiting for an operator)."""
    assert queue_texts("dead-letter") == [], "a stored dead letter is hidden on its queue"
    return queue_length("dead-letter")


def dead_letters() -> list[dict]:
    return [json.loads(text) for text in queue_texts("dead-letter")]


def consume_once(*queue_keys: str, **options) -> Consumer:
    """Run a consumer in this process until the queues have nothing visible."""
    settings = {"poll_interval": 0.05, "max_poll_interval": 0.1, "visibility_timeout": 5, "once": True, **options}
    consumer = Consumer(list(queue_keys), ConsumerOptions(**settings))
    consumer.start()
    consumer.join(timeout=WAIT_SECONDS)
    consumer.shutdown.set()
    consumer.close()
    return consumer


@pytest.fixture
def probe_handler():
    """Replace the probe queue's handler for one test: `probe_handler(function, accepts=...)`."""
    original = handlers.HANDLERS["probe"]

    def replace(function, accepts=original.accepts, parse=None):
        handlers.HANDLERS["probe"] = HandlerRegistration("probe", frozenset(accepts), function, parse)

    yield replace
    handlers.HANDLERS["probe"] = original


class ConsumerProcess:
    """A `manage.py consume_queue` subprocess whose output is collected line by line."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, text: str, count: int = 1) -> None:
        wait_until(lambda: self.output.count(text) >= count, f"{count} x {text!r} in output:\n{self.output}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = WAIT_SECONDS) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Kill its whole process group: a `--processes` supervisor's children too, which would otherwise
        drain on after the test (and hold a connection to the test database as it is dropped)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def start_consumer(subprocess_env, manage_py, queues):
    """Start `manage.py consume_queue ARGS` with fast polling; every process is killed after the test."""
    started: list[ConsumerProcess] = []

    def start(*arguments: str, **env: str) -> ConsumerProcess:
        process = ConsumerProcess(
            [*manage_py, "consume_queue", *arguments], {**subprocess_env, **FAST_CONSUMER_ENV, **env}
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Admin logins in these tests need no slow key stretching."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
