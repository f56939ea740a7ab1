"""The operator dashboard's figures (issue 13, Deliver 1): one snapshot, shown as HTML, JSON and gauges.

1. Queues: every registered queue (`receivers.queues.QUEUES`, so queues registered later appear by
   themselves) with its backlog and the age of its oldest visible message (the queue service), the
   messages processed, retried and dead-lettered per minute over 5 and 60 minutes (what the consumers
   report, `receivers.activity`) and the live processes whose receiver of it is running.
2. Dead letters: the NEW ones per category (every category, zeros included).
3. Transactions: those in a transient status for longer than CONSOLE_STUCK_TRANSACTION_MINUTES, per status.
4. Receivers: per deployment version, live and gone processes and receivers per state.
5. `as_json()` is the alerting document; `gauges()` names the same figures for statsd.
A part whose source cannot be read carries the error; the other parts are still read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from receivers.activity import OUTCOMES, WINDOWS_MINUTES, QueueActivity, queue_activity
from receivers.backlog import QueueBacklog, read_backlogs
from receivers.control import VERSIONS
from receivers.handlers import DeadLetterCategory
from receivers.models import DeadLetterEvent
from receivers.queues import QUEUES
from receivers.receiver_states import RUNNING, STATES, ProcessState, process_states
from receivers.relay import outbox_backlog
from transactions.models import Transaction


@dataclass(frozen=True)
class QueueFigures:
    backlog: QueueBacklog
    activity: QueueActivity | None
    consumers: int

    @property
    def key(self) -> str:
        return self.backlog.key


@dataclass(frozen=True)
class VersionFigures:
    live_processes: int
    gone_processes: int
    receivers: dict[str, int]  # state → receivers


@dataclass
class Dashboard:
    read_at: datetime
    queues: list[QueueFigures]
    new_dead_letters: dict[str, int]
    stuck_minutes: int
    stuck_by_status: dict[str, int]
    versions: dict[str, VersionFigures]
    outbox: dict[str, object] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def stuck_total(self) -> int:
        return sum(self.stuck_by_status.values())

    @property
    def new_dead_letters_total(self) -> int:
        return sum(self.new_dead_letters.values())

    def as_json(self) -> dict:
        return {
            "readAt": self.read_at.isoformat(),
            "queues": [_queue_json(figures) for figures in self.queues],
            "deadLetters": {"new": self.new_dead_letters, "newTotal": self.new_dead_letters_total},
            "stuckTransactions": {
                "olderThanMinutes": self.stuck_minutes,
                "count": self.stuck_total,
                "byStatus": self.stuck_by_status,
            },
            "receivers": {
                version: {
                    "liveProcesses": figures.live_processes,
                    "goneProcesses": figures.gone_processes,
                    "receivers": figures.receivers,
                }
                for version, figures in self.versions.items()
            },
            "outbox": self.outbox,
            "errors": self.errors,
        }

    def gauges(self) -> dict[str, float]:
        """statsd gauge name → value, for the same figures (queues that could not be read are left out)."""
        values: dict[str, float] = {}
        for figures in self.queues:
            prefix = f"console.queue.{figures.key}"
            if figures.backlog.backlog is not None:
                values[f"{prefix}.backlog"] = figures.backlog.backlog
                values[f"{prefix}.oldest_visible_age_seconds"] = figures.backlog.oldest_visible_age_seconds or 0
            values[f"{prefix}.consumers"] = figures.consumers
            if figures.activity is not None:
                for window in WINDOWS_MINUTES:
                    for outcome in OUTCOMES:
                        values[f"{prefix}.{outcome}_per_minute.{window}m"] = figures.activity.per_minute(
                            window, outcome
                        )
        for category, count in self.new_dead_letters.items():
            values[f"console.dead_letters.new.{category}"] = count
        values["console.transactions.stuck"] = self.stuck_total
        for name in ("pending", "oldestPendingAgeSeconds", "refused"):
            if name in self.outbox:
                values[f"console.outbox.{name}"] = self.outbox[name]
        for version, figures in self.versions.items():
            values[f"console.receivers.{version}.processes.live"] = figures.live_processes
            values[f"console.receivers.{version}.processes.gone"] = figures.gone_processes
            for state, count in figures.receivers.items():
                values[f"console.receivers.{version}.{state.replace(' ', '_')}"] = count
        return values


def _queue_json(figures: QueueFigures) -> dict:
    activity = figures.activity
    return {
        "key": figures.key,
        "name": figures.backlog.name,
        "backlog": figures.backlog.backlog,
        "oldestVisibleAgeSeconds": figures.backlog.oldest_visible_age_seconds,
        "perMinute": None
        if activity is None
        else {
            f"{window}m": {outcome: round(activity.per_minute(window, outcome), 3) for outcome in OUTCOMES}
            for window in WINDOWS_MINUTES
        },
        "totals": None if activity is None else {f"{window}m": activity.totals[window] for window in WINDOWS_MINUTES},
        "consumers": figures.consumers,
        "error": figures.backlog.error or None,
    }


def read_dashboard() -> Dashboard:
    """Read every figure now (about 2 queue-service calls per queue, in parallel; 2 Redis round trips;
    6 database queries)."""
    errors: dict[str, str] = {}
    backlogs = read_backlogs()
    try:
        activity = queue_activity(QUEUES)
    except redis.exceptions.RedisError as error:
        activity, errors["activity"] = {}, f"Redis: {error}"
    try:
        processes = process_states()
    except redis.exceptions.RedisError as error:
        processes, errors["receivers"] = [], f"Redis: {error}"
    consumers = consumers_per_queue(processes)
    stuck_minutes = settings.DISPATCHER.CONSOLE_STUCK_TRANSACTION_MINUTES
    return Dashboard(
        read_at=timezone.now(),
        queues=[QueueFigures(backlogs[key], activity.get(key), consumers[key]) for key in QUEUES],
        new_dead_letters=new_dead_letters_per_category(),
        stuck_minutes=stuck_minutes,
        stuck_by_status=stuck_per_status(timedelta(minutes=stuck_minutes)),
        versions=figures_per_version(processes),
        outbox=outbox_backlog().as_dict(),
        errors=errors,
    )


def consumers_per_queue(processes: list[ProcessState]) -> Counter[str]:
    """Live processes whose receiver of each queue is running."""
    serving: Counter[str] = Counter()
    for process in processes:
        if process.gone:
            continue
        for receiver in process.receivers:
            if receiver.state == RUNNING and receiver.queue_key:
                serving[receiver.queue_key] += 1
    return serving


def new_dead_letters_per_category() -> dict[str, int]:
    rows = (
        DeadLetterEvent.objects.filter(state=DeadLetterEvent.State.NEW)
        .order_by()
        .values("category")
        .annotate(count=Count("id"))
    )
    counted = {row["category"]: row["count"] for row in rows}
    figures = {category.value: counted.pop(category.value, 0) for category in DeadLetterCategory}
    if counted:  # dead letters kept as read, without a category
        figures["(none)"] = sum(counted.values())
    return figures


def stuck_per_status(longer_than: timedelta) -> dict[str, int]:
    rows = Transaction.objects.stuck(longer_than).order_by().values("status").annotate(count=Count("pk"))
    return {row["status"]: row["count"] for row in sorted(rows, key=lambda row: row["status"])}


def figures_per_version(processes: list[ProcessState]) -> dict[str, VersionFigures]:
    versions = {}
    for version in sorted({*VERSIONS, *(process.version for process in processes)}):
        mine = [process for process in processes if process.version == version]
        states = Counter(receiver.state for process in mine for receiver in process.receivers)
        versions[version] = VersionFigures(
            live_processes=sum(1 for process in mine if not process.gone),
            gone_processes=sum(1 for process in mine if process.gone),
            receivers={state: states.get(state, 0) for state in STATES},
        )
    return versions
