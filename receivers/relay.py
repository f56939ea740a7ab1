"""Sending committed outbox rows to their queues (spec Part A §11).

1. Right after a decision commits, the runtime sends its rows (`relay_rows`), marks them SENT in one
   statement, then deletes the message it handled.
2. Every consumer process also runs an `OutboxRelay` thread. Every OUTBOX_RELAY_INTERVAL_SECONDS it
   claims up to OUTBOX_RELAY_BATCH_SIZE pending rows whose `available_at` has passed (a decision's
   rows become available OUTBOX_RELAY_GRACE_SECONDS after it, so the sweep finds only what a crash
   left behind), sends them, marks them; then it prunes sent rows and handled marks older than
   OUTBOX_RETENTION_SECONDS and reports the backlog as statsd gauges. The claim moves `available_at`
   forward in the claiming transaction (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
   IMMEDIATE transactions serialise claims), so two processes rarely send one row twice.
3. A row the queue service refuses for good (404 queue not found, any 4xx but 408 and 429) becomes
   REFUSED and stays for operators: a follow-up is dead-lettered PROCESSING_ERROR with its queue and
   the error named (the reference dead-letters a failed enqueue); a dead letter is logged at ERROR and
   counted (the reference swallows a failed dead-letter write), and the handling completes.
4. An outage (timeout, connection error, 5xx, 408, 429) keeps the row PENDING; the sweep tries it
   again with a doubling back-off up to OUTBOX_RELAY_MAX_BACKOFF_SECONDS. Nothing is lost.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core.exceptions import AzureError, HttpResponseError
from django import db
from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from dispatcher_site.metrics import statsd_client
from receivers.dead_letters import announce_dead_letter, build_wrapper, dead_letter_span
from receivers.handlers import DeadLetterCategory
from receivers.messages import event_context
from receivers.models import HandledMessage, OutboxMessage
from receivers.outbox import relay_sweep_start
from receivers.queues import DEAD_LETTER_QUEUE, QUEUES, cached_queue_client, time_to_live

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("receivers.relay")

State = OutboxMessage.State
# How often the sweep prunes, in passes.
PRUNE_EVERY_PASSES = 12


class Outage(Exception):
    """The queue service could not take a row now; it stays pending."""


def refused_for_good(error: HttpResponseError) -> bool:
    """A 4xx answer that sending again cannot change: a missing queue, a bad message, no permission.

    Timeouts (408) and throttling (429) pass; so do 5xx answers, handled as outages.
    """
    status = error.status_code or 0
    return 400 <= status < 500 and status not in (408, 429)


def relay_rows(row_ids: Iterable[uuid.UUID]) -> None:
    """Send these committed rows in order and mark them; stop at the first outage (the sweep goes on)."""
    ids = list(row_ids)
    if not ids:
        return
    rows = {row.id: row for row in OutboxMessage.objects.filter(pk__in=ids, state=State.PENDING)}
    # Rows of a decision are the deciding process's until their grace period ends, then the sweep's.
    send_and_mark([rows[row_id] for row_id in ids if row_id in rows], within_grace=True)


def send_and_mark(rows: list[OutboxMessage], within_grace: bool = False) -> int:
    """Send rows, mark the sent ones SENT at once; the number sent. `within_grace`: rows not claimed,
    sent only while their grace period lasts (after it, the relay sweep may have claimed them)."""
    sent: list[uuid.UUID] = []
    try:
        for row in rows:
            if within_grace and timezone.now() >= row.available_at:
                logger.warning("outbox row %s left to the relay sweep: its grace period is over", row.id)
                break
            try:
                send_row(row)
            except Outage as outage:
                postpone(row, str(outage))
                break
            except HttpResponseError as error:
                refuse(row, error)
                continue
            sent.append(row.id)
    finally:
        if sent:
            OutboxMessage.objects.filter(pk__in=sent).update(state=State.SENT, sent_at=timezone.now())
    return len(sent)


def send_row(row: OutboxMessage) -> None:
    """One row to its queue, with what is left of its visibility delay and TTL. Raises Outage or a
    refusal (HttpResponseError)."""
    now = timezone.now()
    parent = propagate.extract(row.trace_context or {})
    name = f"send to {row.queue_key}"
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.PRODUCER) as span:
        span.set_attribute("messaging.destination.name", QUEUES[row.queue_key].name)
        try:
            if row.is_dead_letter:
                with dead_letter_span(row.text):
                    _send(row, now)
                announce_dead_letter(row.text)
            else:
                _send(row, now)
        except HttpResponseError as error:
            if refused_for_good(error):
                raise
            raise Outage(f"{error.status_code} {error.reason}") from error
        except AzureError as error:
            raise Outage(f"{type(error).__name__}: {error}") from error


def _send(row: OutboxMessage, now: datetime) -> None:
    visibility = row.remaining_visibility_seconds(now)
    cached_queue_client(row.queue_key).send_message(
        row.text, visibility_timeout=visibility or None, time_to_live=row.remaining_time_to_live_seconds(now)
    )


def postpone(row: OutboxMessage, error: str) -> None:
    """An outage: try the row again after a doubling delay."""
    config = settings.DISPATCHER
    delay = min(config.OUTBOX_RELAY_INTERVAL_SECONDS * 2**row.attempts, config.OUTBOX_RELAY_MAX_BACKOFF_SECONDS)
    logger.warning("outbox row %s for %s not sent (%s); next try in %.0f s", row.id, row.queue_key, error, delay)
    OutboxMessage.objects.filter(pk=row.pk, state=State.PENDING).update(
        attempts=F("attempts") + 1,
        available_at=max(timezone.now() + timedelta(seconds=delay), row.available_at),
        last_error=error[:2000],
    )
    statsd_client().incr("outbox.postponed")


def refuse(row: OutboxMessage, error: HttpResponseError) -> None:
    """The queue service refused the row for good: keep it REFUSED; dead-letter a follow-up."""
    problem = describe_refusal(row, error)
    if row.is_dead_letter:
        # Part B §5.6 swallows a dead-letter write that fails: the handling completes, the row stays here.
        logger.error("dead letter %s could not be written: %s", row.id, problem)
        statsd_client().incr("outbox.dead_letter_refused")
        OutboxMessage.objects.filter(pk=row.pk).update(state=State.REFUSED, last_error=problem)
        return
    logger.error("outbox row %s refused: %s; dead-lettering it", row.id, problem)
    statsd_client().incr("outbox.refused")
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=row.pk).update(state=State.REFUSED, last_error=problem)
        dead_letter = dead_letter_of_refused(row, problem)
    send_and_mark([dead_letter])


def describe_refusal(row: OutboxMessage, error: HttpResponseError) -> str:
    code = getattr(error, "error_code", None) or error.reason or ""
    return (
        f"the queue service refused the message for {row.queue_key} (queue {QUEUES[row.queue_key].name}): "
        f"{error.status_code} {code}".strip()
    )


def dead_letter_of_refused(row: OutboxMessage, problem: str) -> OutboxMessage:
    """The PROCESSING_ERROR dead letter of a refused follow-up: its own text, to requeue once fixed."""
    transaction_id, event_code = event_context(row.text)
    now = timezone.now()
    return OutboxMessage.objects.create(
        id=uuid.uuid4(),
        queue_key=DEAD_LETTER_QUEUE,
        text=build_wrapper(DeadLetterCategory.PROCESSING_ERROR, row.text, row.queue_key, problem, 0),
        time_to_live_seconds=time_to_live(DEAD_LETTER_QUEUE),
        trace_context=row.trace_context,
        is_dead_letter=True,
        transaction_id=(transaction_id or "")[:64],
        event_code=(event_code or "")[:100],
        source_queue=row.source_queue,
        source_message_id=row.source_message_id,
        created_at=now,
        available_at=relay_sweep_start(now),
    )


# --- the sweep --------------------------------------------------------------------------------------


def claim_due_rows(limit: int, source_message_id: str = "") -> list[OutboxMessage]:
    """Pending rows whose time has come (of one source message, if given), claimed for one grace period
    (see the module docstring)."""
    now = timezone.now()
    with transaction.atomic():
        due = OutboxMessage.objects.filter(state=State.PENDING, available_at__lte=now).order_by("available_at")
        if source_message_id:
            due = due.filter(source_message_id=source_message_id)
        rows = list(due.select_for_update(skip_locked=True)[:limit])
        if rows:
            OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(available_at=relay_sweep_start(now))
    return rows


def relay_due_rows() -> int:
    """One sweep: claim, send, mark; the number of rows sent."""
    rows = claim_due_rows(settings.DISPATCHER.OUTBOX_RELAY_BATCH_SIZE)
    if rows:
        logger.info("relaying %d outbox rows left unsent", len(rows))
    sent = send_and_mark(rows)
    if sent:
        statsd_client().incr("outbox.relayed", sent)
    return sent


def relay_rows_left_by(message_id: str) -> int:
    """A redelivered message whose decision is committed: send what that decision left unsent, once
    due (rows still in their grace period, or claimed by a sweep, are the sweep's)."""
    return send_and_mark(claim_due_rows(settings.DISPATCHER.OUTBOX_RELAY_BATCH_SIZE, message_id))


def prune() -> tuple[int, int]:
    """Delete sent rows and handled marks older than the retention; how many of each."""
    cutoff = timezone.now() - timedelta(seconds=settings.DISPATCHER.OUTBOX_RETENTION_SECONDS)
    rows, _ = OutboxMessage.objects.filter(state=State.SENT, sent_at__lt=cutoff).delete()
    marks, _ = HandledMessage.objects.filter(handled_at__lt=cutoff).delete()
    return rows, marks


@dataclass(frozen=True)
class OutboxBacklog:
    """What waits in the outbox: rows not sent yet, the oldest one's age, and refused rows."""

    pending: int
    oldest_pending_age_seconds: float
    refused: int

    @property
    def degraded(self) -> bool:
        return self.oldest_pending_age_seconds > settings.DISPATCHER.OUTBOX_DEGRADED_AGE_SECONDS

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "DEGRADED" if self.degraded else "UP",
            "pending": self.pending,
            "oldestPendingAgeSeconds": round(self.oldest_pending_age_seconds, 1),
            "refused": self.refused,
        }


def outbox_backlog() -> OutboxBacklog:
    pending = OutboxMessage.objects.filter(state=State.PENDING)
    summary = pending.aggregate(oldest=Min("created_at"))
    oldest = summary["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    refused = OutboxMessage.objects.filter(state=State.REFUSED).count()
    return OutboxBacklog(pending.count(), max(age, 0.0), refused)


def outbox_status() -> dict[str, object]:
    """The backlog for readiness: DEGRADED when a row waits too long. It does not fail readiness: web
    processes serve regardless, and consumers relay the rows."""
    try:
        return outbox_backlog().as_dict()
    except db.DatabaseError as error:
        return {"status": "UNKNOWN", "error": type(error).__name__}
    finally:
        db.connection.close()  # a readiness pool thread's own connection


def report_backlog() -> OutboxBacklog:
    backlog = outbox_backlog()
    stats = statsd_client()
    stats.gauge("outbox.pending", backlog.pending)
    stats.gauge("outbox.oldest_pending_age_seconds", backlog.oldest_pending_age_seconds)
    stats.gauge("outbox.refused", backlog.refused)
    return backlog


class OutboxRelay:
    """The sweep thread of a consumer process (step 2 of the module docstring)."""

    def __init__(self, stopped: threading.Event):
        self.stopped = stopped
        self.thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)

    def run(self) -> None:
        passes = 0
        interval = settings.DISPATCHER.OUTBOX_RELAY_INTERVAL_SECONDS
        while not self.stopped.wait(timeout=interval):
            self.pass_once(prune_now=passes % PRUNE_EVERY_PASSES == 0)
            passes += 1

    def pass_once(self, prune_now: bool = False) -> None:
        """Relay, maybe prune, report; a failure is logged and the next pass tries again (the thread
        must outlive a database or queue outage)."""
        try:
            db.close_old_connections()
            while relay_due_rows() == settings.DISPATCHER.OUTBOX_RELAY_BATCH_SIZE and not self.stopped.is_set():
                pass  # a full batch: more may be due
            if prune_now:
                pruned = prune()
                if any(pruned):
                    logger.info("pruned %d sent outbox rows and %d handled marks", *pruned)
            report_backlog()
        except Exception:
            logger.exception("outbox relay pass failed; trying again in the next one")
        finally:
            try:
                db.close_old_connections()
            except Exception:
                logger.exception("outbox relay could not close its database connection")
