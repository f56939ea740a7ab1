"""The deploy gate: STOP or START every receiver of one deployment version, and wait until they obey.

A deploy stops the consumers of the running version before its migrations and starts the new ones
after the rollout (spec Part B §9, "Deployment procedure"; here without a person polling the status).
The gate judges each instance from its status key (`receivers.control`), never from a guess:
1. The command is published on the stream and then recorded; a database error while recording is
   logged and the gate goes on (the command is already in force).
2. Every poll reads each status key of the version with its remaining TTL. An instance is *stale* when
   its key has not been refreshed for two report intervals and five seconds: its process is gone (a dead
   pod's key lives up to RECEIVER_STATUS_TTL_SECONDS) or cut off from Redis. It has *acknowledged* the
   command when its `lastCommandId` is the command's id; a consumer that does not report that field
   (an older release, or the reference service) is taken at its word.
3. STOP is done when no instance of the version blocks it. An instance blocks while any receiver is UP
   or UNKNOWN, or while messages are still in flight; a fresh instance also blocks until it has
   acknowledged the STOP or is shutting down. A stale instance last seen running keeps blocking until its
   key expires, because it may be alive, cut off from Redis, and still consuming.
4. START is done when at least `min_instances` live instances (fresh, not shutting down) report, each
   having acknowledged the START with every receiver UP. Stale keys (dead pods) and instances shutting
   down (old pods draining after SIGTERM, which ignore START) are not counted either way.
5. The caller polls until done or until its timeout, and reports what it was still waiting for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings

from receivers.control import STATUS_KEY_PREFIX, parse_status_document, redis_connection

# A key not refreshed for this much longer than two report intervals belongs to a process that is gone.
STALE_MARGIN_SECONDS = 5.0
# The document of a consumer that does not report which command it applied.
NOT_REPORTED = object()


@dataclass(frozen=True)
class Instance:
    """One consumer process as its status key shows it."""

    instance_id: str
    statuses: tuple[tuple[str, str], ...]
    last_command_id: Any  # a command id, None, or NOT_REPORTED
    shutting_down: bool
    in_flight: int
    stale: bool

    @classmethod
    def from_document(cls, document: dict[str, Any], stale: bool) -> Instance:
        return cls(
            instance_id=str(document.get("consumerInstanceId")),
            statuses=tuple((r.get("name", "?"), r.get("status", "UNKNOWN")) for r in document["receiverStatuses"]),
            last_command_id=document.get("lastCommandId", NOT_REPORTED),
            shutting_down=bool(document.get("shuttingDown", False)),
            in_flight=int(document.get("inFlight", 0)),
            stale=stale,
        )

    def acknowledged(self, command_id: str) -> bool:
        return self.last_command_id is NOT_REPORTED or self.last_command_id == command_id

    def all_receivers(self, status: str) -> bool:
        return all(value == status for _, value in self.statuses)

    def not_in(self, status: str) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.statuses if value != status)


def stop_blocker(instance: Instance, command_id: str) -> str | None:
    """Why this instance keeps the STOP from being done, or None."""
    if not instance.all_receivers("DOWN"):
        where = "last seen (its key has not been refreshed)" if instance.stale else "still"
        return f"{instance.instance_id} is {where} running: {instance.not_in('DOWN')}"
    if instance.stale:
        return None
    if instance.in_flight > 0:
        return f"{instance.instance_id} is finishing {instance.in_flight} message(s) in flight"
    if not (instance.acknowledged(command_id) or instance.shutting_down):
        return f"{instance.instance_id} has not applied the STOP yet"
    return None


def start_blocker(instance: Instance, command_id: str) -> str | None:
    """Why this live instance keeps the START from being done, or None."""
    if not instance.acknowledged(command_id):
        return f"{instance.instance_id} has not applied the START yet"
    if not instance.all_receivers("UP"):
        return f"{instance.instance_id} is not up: {instance.not_in('UP')}"
    return None


def blockers(command: str, command_id: str, instances: list[Instance], min_instances: int = 1) -> list[str]:
    """What the gate is still waiting for; empty when the command has been obeyed."""
    if command == "STOP":
        return [reason for instance in instances if (reason := stop_blocker(instance, command_id))]
    live = [instance for instance in instances if not instance.stale and not instance.shutting_down]
    waiting = [reason for instance in live if (reason := start_blocker(instance, command_id))]
    if len(live) < min_instances:
        waiting.append(f"{len(live)} live instance(s) report, at least {min_instances} expected")
    return waiting


def read_instances(version: str) -> list[Instance]:
    """Every status key of the version, with staleness judged from its remaining TTL (Redis's own clock)."""
    config = settings.DISPATCHER
    stale_after = 2 * config.RECEIVER_STATUS_REFRESH_SECONDS + STALE_MARGIN_SECONDS
    connection: redis.Redis = redis_connection()
    try:
        keys = sorted(connection.scan_iter(match=f"{STATUS_KEY_PREFIX}*", count=500))
        pipeline = connection.pipeline(transaction=False)
        for key in keys:
            pipeline.get(key)
            pipeline.pttl(key)
        replies = pipeline.execute() if keys else []
    finally:
        connection.close()
    instances = []
    for text, ttl_ms in zip(replies[::2], replies[1::2], strict=True):
        document = _document(text)
        if document is None or document.get("version") != version:
            continue
        age = config.RECEIVER_STATUS_TTL_SECONDS - max(ttl_ms, 0) / 1000
        instances.append(Instance.from_document(document, stale=age > stale_after))
    return instances


def _document(text: str | None) -> dict[str, Any] | None:
    """A status document with a list of receivers, or None (expired meanwhile, or not one of ours)."""
    document = parse_status_document(text)
    if document is None or not isinstance(document.get("receiverStatuses"), list):
        return None
    return document
