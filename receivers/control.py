"""Receiver control through Redis, compatible with the reference service (spec Part B §9).

- Commands: the stream REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY holds only the latest command
  (XTRIM MAXLEN 0, then XADD). Every consumer process reads it from 0-0 at start and follows it, so a
  new process obeys the last command sent (or, when the stream is empty or unreachable at start, the
  latest ReceiverCommand recorded for its version or for all). A command applies when its version is
  empty or equals the process's DEPLOYMENT_VERSION.
- Statuses: each process writes `receiver-status:<instanceId>` every RECEIVER_STATUS_REFRESH_SECONDS
  with a TTL of RECEIVER_STATUS_TTL_SECONDS, so a dead process disappears within a minute. Beyond the
  reference's fields, the document says which command the process applied last (`lastCommandId`),
  whatever the process adds (`shuttingDown`, `inFlight`: its messages in flight), so the deploy gate
  can tell an instance that obeyed from one that has not read the command yet, or that is going away,
  and the messages each receiver holds (`inFlightByReceiver`); the same document also goes to the
  hash `receiver-last-seen`, kept for a day, so the console can show a process that disappeared and
  when it was last seen.
Redis being down never stops a consumer: the controller logs, waits a second and tries again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from receivers import activity
from receivers.models import ReceiverCommand
from receivers.queues import QUEUES

logger = logging.getLogger(__name__)

COMMAND_CLASS = "it.pagopa.ecommerce.eventdispatcher.redis.streams.commands.EventDispatcherReceiverCommand"
STATUS_KEY_PREFIX = "receiver-status:"
LAST_SEEN_KEY = "receiver-last-seen"
LAST_SEEN_KEEP_SECONDS = 24 * 3600
COMMANDS = ("START", "STOP")
VERSIONS = ("PROD", "STAGING")


def redis_connection(extra_socket_timeout: float = 0) -> redis.Redis:
    timeout = settings.DISPATCHER.REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(
        settings.REDIS_URL,
        decode_responses=True,
        socket_connect_timeout=timeout,
        socket_timeout=timeout + extra_socket_timeout,
    )


def publish_command(command: str, version: str | None) -> uuid.UUID:
    """Put START/STOP for one deployment version (None: all) on the stream, alone; return its command id.

    Redis errors propagate. Every consumer applies it within about a second and reports its id as
    `lastCommandId` in its status document, which is how the deploy gate knows it was obeyed.
    """
    if command not in COMMANDS or (version is not None and version not in VERSIONS):
        raise ValueError(f"invalid command {command!r} for version {version!r}")
    command_id = uuid.uuid4()
    fields = {
        "_class": COMMAND_CLASS,
        "commandId": str(command_id),
        "type": "RECEIVER_COMMAND",
        "receiverCommand": command,
    }
    if version is not None:
        # A command for every version carries no version field (Spring's hash mapping drops nulls).
        fields["version"] = version
    connection = redis_connection()
    try:
        stream = settings.DISPATCHER.REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY
        pipeline = connection.pipeline(transaction=True)
        pipeline.xtrim(stream, maxlen=0, approximate=False)
        pipeline.xadd(stream, fields)
        pipeline.execute()
    finally:
        connection.close()
    return command_id


def record_command(
    command_id: uuid.UUID, command: str, version: str | None, sent_by: str, origin: str
) -> ReceiverCommand:
    """Record a published command: who sent it, when, what, to which version."""
    return ReceiverCommand.objects.create(
        id=command_id, command=command, deployment_version=version or "", sent_by=sent_by, origin=origin
    )


def send_command(command: str, version: str | None, sent_by: str, origin: str) -> ReceiverCommand:
    """Publish START/STOP for one deployment version (None: all), and record who sent it.

    Redis errors propagate (the API answers 500); the record is written only once Redis has the command,
    and a database error then propagates too (the command is in force but unrecorded: it is logged).
    """
    command_id = publish_command(command, version)
    return record_command(command_id, command, version, sent_by, origin)


def read_statuses(version: str | None = None) -> list[dict[str, Any]]:
    """Every live process's status document, optionally only those of one deployment version."""
    connection = redis_connection()
    try:
        keys = sorted(connection.scan_iter(match=f"{STATUS_KEY_PREFIX}*", count=500))
        texts = connection.mget(keys) if keys else []
    finally:
        connection.close()
    documents = [document for document in map(parse_status_document, texts) if document is not None]
    return [d for d in documents if version is None or d.get("version") == version]


def read_last_seen() -> list[dict[str, Any]]:
    """The last document of every process seen in the past day (older ones are dropped here)."""
    connection = redis_connection()
    try:
        entries = connection.hgetall(LAST_SEEN_KEY)
        documents, expired = [], []
        oldest = timezone.now().timestamp() - LAST_SEEN_KEEP_SECONDS
        for instance_id, text in entries.items():
            document = parse_status_document(text)
            queried_at = queried_at_of(document)
            if document is None or queried_at is None or queried_at.timestamp() < oldest:
                expired.append(instance_id)
            else:
                documents.append(document)
        if expired:
            connection.hdel(LAST_SEEN_KEY, *expired)
    finally:
        connection.close()
    return documents


def queried_at_of(document: dict[str, Any] | None) -> datetime | None:
    """When a status document was written, or None when it does not say."""
    try:
        return parse_datetime(str((document or {}).get("queriedAt") or ""))
    except ValueError:
        return None


def parse_status_document(text: str | None) -> dict[str, Any] | None:
    """A status key's document, or None when it expired meanwhile or is not a JSON object."""
    if not text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        logger.warning("skipping an undecodable receiver status document: %.200s", text)
        return None
    return document if isinstance(document, dict) else None


def command_targets(fields: dict[str, str], deployment_version: str) -> str | None:
    """The command (START/STOP) if this stream record is a receiver command for our version, else None."""
    if fields.get("type") != "RECEIVER_COMMAND":
        logger.error("unknown command type in the receiver command stream: %s", fields)
        return None
    target = fields.get("version")
    if target not in (None, "", "null", deployment_version):
        return None
    command = fields.get("receiverCommand")
    if command not in COMMANDS:
        logger.error("unknown receiver command: %s", fields)
        return None
    return command


class ReceiverController:
    """Follows the command stream and publishes this process's statuses, in a background thread."""

    def __init__(
        self,
        apply: Callable[[bool], None],
        statuses: Callable[[], Iterable[tuple[str, str]]],
        stopped: threading.Event,
        extra: Callable[[], dict[str, Any]] | None = None,
    ):
        self.apply = apply
        self.statuses = statuses
        self.stopped = stopped
        self.extra = extra or dict
        self.last_command_id: str | None = None
        self.instance_id = f"event-dispatcher-{uuid.uuid4()}"
        self.version = settings.DISPATCHER.DEPLOYMENT_VERSION
        self.last_id = "0-0"
        self.next_report = 0.0
        self.connection: redis.Redis | None = None
        self.thread = threading.Thread(target=self.run, name="receiver-controller", daemon=True)

    def replay(self) -> None:
        """Apply the latest command before any receiver starts.

        The stream is the source; when it is empty (Redis restarted and lost it) or unreachable, the
        latest recorded command for this version or for every version is applied instead, so a
        STOP survives a Redis restart during a deploy. With neither, receivers start running.
        """
        try:
            if self.follow_commands(block_ms=None):
                return
            logger.info("the receiver command stream is empty; looking for the latest recorded command")
        except redis.exceptions.RedisError as error:
            logger.warning("cannot read receiver commands at start (%s); looking for the latest recorded one", error)
        try:
            latest = (
                ReceiverCommand.objects.filter(deployment_version__in=("", self.version)).order_by("-sent_at").first()
            )
        except DatabaseError as error:
            logger.warning("cannot read recorded receiver commands (%s); receivers start running", error)
            return
        if latest is not None:
            logger.info("recorded receiver command %s (%s) applied", latest.command, latest.id)
            self.apply(latest.command == ReceiverCommand.Command.START)
            self.last_command_id = str(latest.id)

    def run(self) -> None:
        """Steps, until the process stops: report statuses when due; wait up to 1 s for a command.

        No error ends this thread: without it STOP would no longer be obeyed. Anything but a Redis
        error is logged with its traceback and retried after a doubling delay (at most a minute).
        """
        delay = 1.0
        while not self.stopped.is_set():
            try:
                if time.monotonic() >= self.next_report:
                    self.report()
                self.follow_commands(block_ms=1000)
                delay = 1.0
            except redis.exceptions.RedisError as error:
                logger.warning("receiver control cannot reach Redis (%s); retrying in 1 s", error)
                self.connection = None
                self.stopped.wait(timeout=1)
            except Exception:
                logger.exception("receiver control failed; retrying in %.0f s", delay)
                self.connection = None
                self.stopped.wait(timeout=delay)
                delay = min(delay * 2, 60.0)

    def redis(self) -> redis.Redis:
        if self.connection is None:
            self.connection = redis_connection(extra_socket_timeout=1)
        return self.connection

    def follow_commands(self, block_ms: int | None) -> int:
        """Apply the stream's new records that target us; return how many records were read."""
        stream = settings.DISPATCHER.REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY
        replies = self.redis().xread({stream: self.last_id}, count=100, block=block_ms)
        read = 0
        for _stream, records in replies or []:
            read += len(records)
            for record_id, fields in records:
                self.last_id = record_id
                command = command_targets(fields, self.version)
                if command is not None:
                    logger.info("receiver command %s (%s) applied", command, fields.get("commandId"))
                    self.apply(command == "START")
                    self.last_command_id = fields.get("commandId")
                    self.next_report = 0.0  # let operators see the new state at once
        return read

    def status_document(self) -> dict[str, Any]:
        return {
            "consumerInstanceId": self.instance_id,
            "queriedAt": timezone.localtime().isoformat(),
            "version": self.version,
            "receiverStatuses": [{"name": name, "status": status} for name, status in self.statuses()],
            "lastCommandId": self.last_command_id,
            "inFlightByReceiver": {QUEUES[key].receiver_name: count for key, count in activity.in_flight().items()},
            **self.extra(),
        }

    def report(self) -> None:
        config = settings.DISPATCHER
        publish_status(self.redis(), self.instance_id, json.dumps(self.status_document()))
        self.next_report = time.monotonic() + config.RECEIVER_STATUS_REFRESH_SECONDS

    def report_final(self) -> None:
        """On exit, publish the receivers as DOWN so operators need not wait for the key to expire.

        Called from the main thread once the receivers have ended, on a connection of its own, so the
        process need not wait for the controller thread's blocking read to return.
        """
        with contextlib.suppress(redis.exceptions.RedisError):
            connection = redis_connection()
            try:
                publish_status(connection, self.instance_id, json.dumps(self.status_document()))
            finally:
                connection.close()


def publish_status(connection: redis.Redis, instance_id: str, document: str) -> None:
    """The process's status key (expiring) and its entry in the last-seen hash, in one round trip."""
    pipeline = connection.pipeline(transaction=False)
    pipeline.set(STATUS_KEY_PREFIX + instance_id, document, ex=settings.DISPATCHER.RECEIVER_STATUS_TTL_SECONDS)
    pipeline.hset(LAST_SEEN_KEY, instance_id, document)
    pipeline.execute()
