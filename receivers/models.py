"""Models of the receivers app: dead letters kept for operators, receiver commands, diagnostic probes."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from receivers.handlers import DeadLetterCategory

# The largest value every database accepts in a PositiveIntegerField.
MAX_DEQUEUE_COUNT = 2_147_483_647


class DeadLetterEvent(models.Model):
    """One dead letter read from the dead-letter queue (spec Part A §5), stored once however often read."""

    class State(models.TextChoices):
        NEW = "NEW", "new"
        REQUEUED = "REQUEUED", "requeued"
        RESOLVED = "RESOLVED", "resolved"

    # The wrapper's own id; for a message that carries no wrapper, the queue message id.
    id = models.CharField(primary_key=True, max_length=64)
    category = models.CharField(
        max_length=64, db_index=True, blank=True, choices=[(c.value, c.value) for c in DeadLetterCategory]
    )
    source_queue = models.CharField(max_length=64, db_index=True, blank=True)
    transaction_id = models.CharField(max_length=64, db_index=True, blank=True)
    event_code = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    dequeue_count = models.PositiveIntegerField(default=0)
    dead_lettered_at = models.DateTimeField(db_index=True)
    original_message = models.TextField(blank=True)
    original_message_truncated = models.BooleanField(default=False)
    dead_letter_message = models.TextField(help_text="The dead-letter queue message as read.")
    stored_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW, db_index=True)
    requeued_at = models.DateTimeField(null=True, blank=True)
    requeued_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution_note = models.TextField(blank=True)
    # The dead-letter queue message this row was read from, kept hidden there while the row is
    # unresolved, and its newest pop receipt (what deleting it takes).
    queue_message_id = models.CharField(max_length=64, blank=True, db_index=True)
    pop_receipt = models.CharField(max_length=255, blank=True)
    # A requeued message that fails again arrives as a new dead letter with the same original text: the
    # digest finds the earlier one, and `predecessor` links the two for operators.
    original_message_digest = models.CharField(max_length=64, blank=True, db_index=True)
    predecessor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successors", db_index=True
    )

    class Meta:
        ordering = ["-dead_lettered_at"]
        indexes = [models.Index(fields=["category", "dead_lettered_at"])]

    def __str__(self) -> str:
        return f"{self.category or 'dead letter'} {self.transaction_id or self.id}"

    @classmethod
    def store(cls, fields: dict[str, Any]) -> tuple[DeadLetterEvent, bool]:
        """Insert the dead letter unless it is already stored; return it and whether it was new.

        Text is stripped of NUL characters (PostgreSQL refuses them) and the dequeue count is kept within
        its column, so what a queue message carries cannot make the insert fail for ever.
        """
        fields = {
            key: value.replace("\x00", "\ufffd") if isinstance(value, str) else value for key, value in fields.items()
        }
        fields["dequeue_count"] = min(max(int(fields.get("dequeue_count") or 0), 0), MAX_DEQUEUE_COUNT)
        fields["original_message_digest"] = message_digest(fields.get("original_message") or "")
        fields.setdefault("predecessor", cls.requeued_with_digest(fields["original_message_digest"], fields["id"]))
        try:
            with transaction.atomic():
                return cls.objects.get_or_create(id=fields["id"], defaults=fields)
        except IntegrityError:
            # Another consumer may have stored the same dead letter between our read and our insert;
            # any other integrity failure is a real one and propagates.
            existing = cls.objects.filter(id=fields["id"]).first()
            if existing is None:
                raise
            return existing, False

    @classmethod
    def requeued_with_digest(cls, digest: str, other_than: str) -> DeadLetterEvent | None:
        """The latest dead letter requeued with this original text: the one a new dead letter repeats."""
        if not digest:
            return None
        return (
            cls.objects.filter(original_message_digest=digest, state=cls.State.REQUEUED)
            .exclude(id=other_than)
            .order_by("-requeued_at")
            .first()
        )

    @property
    def unresolved(self) -> bool:
        return self.state == self.State.NEW

    def pretty_original_message(self) -> str:
        try:
            return json.dumps(json.loads(self.original_message), indent=2, ensure_ascii=False)
        except ValueError:
            return self.original_message

    def mark_requeued(self, who: str, when: datetime) -> bool:
        """Compare-and-set NEW → REQUEUED; False when someone else handled it first."""
        changed = DeadLetterEvent.objects.filter(id=self.id, state=self.State.NEW).update(
            state=self.State.REQUEUED, requeued_at=when, requeued_by=who
        )
        return changed == 1

    def undo_requeue(self, who: str, when: datetime) -> None:
        """Give back a claim of `mark_requeued` whose send failed (only that claim, REQUEUED → NEW)."""
        DeadLetterEvent.objects.filter(id=self.id, state=self.State.REQUEUED, requeued_by=who, requeued_at=when).update(
            state=self.State.NEW, requeued_at=None, requeued_by=""
        )

    def mark_resolved(self, who: str, when: datetime, note: str) -> bool:
        """Compare-and-set NEW/REQUEUED → RESOLVED; False when it was already resolved."""
        changed = (
            DeadLetterEvent.objects.filter(id=self.id)
            .exclude(state=self.State.RESOLVED)
            .update(state=self.State.RESOLVED, resolved_at=when, resolved_by=who, resolution_note=note)
        )
        return changed == 1


def message_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


class ReceiverCommand(models.Model):
    """Every START/STOP command sent to the receivers: who, when, what, which deployment."""

    class Command(models.TextChoices):
        START = "START", "start"
        STOP = "STOP", "stop"

    class Origin(models.TextChoices):
        API = "api", "REST API"
        ADMIN = "admin", "admin"
        CLI = "cli", "manage.py receivers"

    id = models.UUIDField(primary_key=True)
    command = models.CharField(max_length=8, choices=Command.choices)
    deployment_version = models.CharField(max_length=16, blank=True, help_text="Empty: every deployment.")
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_by = models.CharField(max_length=150, blank=True)
    origin = models.CharField(max_length=8, choices=Origin.choices)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.command} {self.deployment_version or 'all versions'}"


class ProbeReceipt(models.Model):
    """A diagnostic probe that asked to be recorded: proves a message went through the whole runtime."""

    event_id = models.CharField(primary_key=True, max_length=64)
    queue = models.CharField(max_length=64)
    first_handled_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.event_id


class OutboxMessage(models.Model):
    """A message a handler decided to send, committed with the events of that decision (spec Part A §11).

    The runtime relays it right after the commit; any consumer process relays it once it is older than
    OUTBOX_RELAY_GRACE_SECONDS and still pending (the process that decided it died before sending).
    """

    class State(models.TextChoices):
        PENDING = "PENDING", "pending"
        SENT = "SENT", "sent"
        REFUSED = "REFUSED", "refused by the queue service"

    id = models.UUIDField(primary_key=True)
    queue_key = models.CharField(max_length=64, help_text="The target queue's key (receivers.queues).")
    text = models.TextField()
    visibility_seconds = models.PositiveIntegerField(default=0)
    time_to_live_seconds = models.IntegerField(help_text="-1: never expires.")
    trace_context = models.JSONField(default=dict, blank=True, help_text="W3C trace context of the decision.")
    is_dead_letter = models.BooleanField(default=False)
    transaction_id = models.CharField(max_length=64, blank=True, db_index=True)
    event_code = models.CharField(max_length=100, blank=True)
    # The queue message whose handling decided it (empty for rows written outside the runtime).
    source_queue = models.CharField(max_length=64, blank=True)
    source_message_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    # Not relayed by the sweep before this moment: the grace period, a claim, or an outage back-off.
    available_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["state", "available_at"], name="outbox_due"),
            models.Index(fields=["state", "sent_at"], name="outbox_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.queue_key} {self.state.lower()} {self.transaction_id or self.id}"

    def remaining_visibility_seconds(self, now: datetime) -> int:
        """The visibility still to wait: a retry relayed late becomes visible when it was meant to."""
        return max(0, self.visibility_seconds - self._whole_seconds_since_created(now))

    def remaining_time_to_live_seconds(self, now: datetime) -> int:
        if self.time_to_live_seconds == -1:
            return -1
        return max(1, self.time_to_live_seconds - self._whole_seconds_since_created(now))

    def _whole_seconds_since_created(self, now: datetime) -> int:
        return max(0, int((now - self.created_at).total_seconds()))


class HandledMessage(models.Model):
    """The mark that a queue message's decision is committed: a redelivery of it is a no-op.

    Written in the decision's own transaction; its primary key also keeps two consumers that hold
    the same message (a lease ran out) from both committing a decision for it.
    """

    queue_message_id = models.CharField(primary_key=True, max_length=64)
    queue = models.CharField(max_length=64)
    handled_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.queue} {self.queue_message_id}"
