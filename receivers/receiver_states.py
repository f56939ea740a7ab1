"""Receiver states as an operator needs them before and after a deploy (issue 13, Deliver 2).

1. Every process's latest status document is read: the live ones (`receiver-status:<id>`, expiring
   after RECEIVER_STATUS_TTL_SECONDS) and the last one of each process seen in the past day (the
   `receiver-last-seen` hash, see `receivers.control`).
2. A process without a live document is *gone*: its heartbeat is older than the TTL; its last-seen
   time is shown.
3. Each receiver of a live process is *running* (UP), *not responding* (UNKNOWN: its loop crashed or
   stalled), *draining* (DOWN with messages still in flight, their count shown), *exited* (DOWN after
   SIGTERM, nothing left in flight) or *stopped by command* (DOWN otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from receivers.control import queried_at_of, read_last_seen, read_statuses
from receivers.queues import QUEUES

RUNNING = "running"
STOPPED = "stopped by command"
DRAINING = "draining"
EXITED = "exited"
NOT_RESPONDING = "not responding"
GONE = "gone"
STATES = (RUNNING, DRAINING, STOPPED, EXITED, NOT_RESPONDING, GONE)


def queue_of_receiver(name: str) -> str:
    """The key of the queue a receiver consumes, "" if none: read from the registry when asked, since
    apps register their queues (the sending queues) after this module is imported."""
    return next((key for key, definition in QUEUES.items() if definition.receiver_name == name), "")


@dataclass(frozen=True)
class ReceiverState:
    name: str
    queue_key: str
    state: str
    in_flight: int


@dataclass(frozen=True)
class ProcessState:
    instance_id: str
    version: str
    last_seen: datetime | None
    gone: bool
    receivers: tuple[ReceiverState, ...]

    @property
    def seconds_since_seen(self) -> int | None:
        return None if self.last_seen is None else round((timezone.now() - self.last_seen).total_seconds())


def receiver_state(status: str, in_flight: int, shutting_down: bool) -> str:
    """One live receiver's state from what its process reported."""
    if status == "UP":
        return RUNNING
    if status != "DOWN":
        return NOT_RESPONDING
    if in_flight:
        return DRAINING
    return EXITED if shutting_down else STOPPED


def describe(document: dict[str, Any], gone: bool) -> ProcessState:
    in_flight = document.get("inFlightByReceiver") or {}
    shutting_down = bool(document.get("shuttingDown"))
    receivers = []
    for entry in document.get("receiverStatuses") or []:
        name = str(entry.get("name", ""))
        count = int(in_flight.get(name, 0) or 0)
        state = GONE if gone else receiver_state(str(entry.get("status", "")), count, shutting_down)
        receivers.append(ReceiverState(name, queue_of_receiver(name), state, count))
    return ProcessState(
        instance_id=str(document.get("consumerInstanceId", "")),
        version=str(document.get("version") or ""),
        last_seen=queried_at_of(document),
        gone=gone,
        receivers=tuple(receivers),
    )


def process_states(version: str | None = None) -> list[ProcessState]:
    """Live processes first, then gone ones, newest first in each; optionally one version's. Redis
    errors propagate."""
    live = {document.get("consumerInstanceId"): document for document in read_statuses()}
    processes = [describe(document, gone=False) for document in live.values()]
    processes += [
        describe(document, gone=True) for document in read_last_seen() if document.get("consumerInstanceId") not in live
    ]
    processes = [process for process in processes if version is None or process.version == version]
    oldest = timezone.now().replace(year=1970)
    return sorted(processes, key=lambda process: (process.gone, -(process.last_seen or oldest).timestamp()))
