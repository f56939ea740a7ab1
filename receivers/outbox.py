"""The outbox: what a decision sends, committed together with that decision (spec Part A §11).

    with outbox.decision():                                  # one database transaction
        record_events(state, [event], view_status=...)       # what the decision appends
        outbox.send("refund", event_json, tracing_info)      # a follow-up message: an OutboxMessage row
        outbox.dead_letter_current_message(category, error)  # a dead letter: a row for the dead-letter queue

1. `send` and `dead_letter_current_message` only write rows, and only inside `decision()`: no handler
   sends to a queue itself, and nothing a decision sends can outlive a rollback of it;
2. `decision()` is one `transaction.atomic()`. When the outbox belongs to a received queue message,
   the decision also marks that message handled (`HandledMessage`), so a redelivery of it is a no-op;
   the mark's primary key keeps two consumers holding the same message from both committing;
3. a `HandlerError` raised inside a decision commits what the decision wrote together with the dead
   letter of the message, then propagates with `recorded` set (an outbox of no received message has
   nothing to dead-letter: it rolls back); any other exception rolls back all of it;
4. `committed_row_ids` are the rows whose transaction committed: the runtime relays them
   (`receivers.relay`) before it deletes the message. Rows become available to every consumer's relay
   sweep only after OUTBOX_RELAY_GRACE_SECONDS, so they are sent by the sweep only when the process
   that decided them died before sending.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from opentelemetry import propagate

from receivers.dead_letters import build_wrapper
from receivers.handlers import DeadLetterCategory, HandlerError, RetryLater, serialize_queue_event
from receivers.messages import event_context
from receivers.models import HandledMessage, OutboxMessage
from receivers.queues import DEAD_LETTER_QUEUE, MAX_MESSAGE_BYTES, MAX_VISIBILITY_SECONDS, QUEUES, time_to_live


class AlreadyHandled(RetryLater):
    """Another consumer committed the decision of this very queue message first (its lease had run out)."""


@dataclass(frozen=True)
class MessageSource:
    """The received message a decision is about: what its dead letter carries and its handled mark keys."""

    queue_key: str
    message_id: str = ""
    text: str = ""
    dequeue_count: int = 0


@dataclass
class Outbox:
    """Rows one message's handling (or one API request) decided to send; see the module docstring."""

    source: MessageSource | None = None
    committed_row_ids: list[uuid.UUID] = field(default_factory=list)
    _in_decision: bool = False
    _marked: bool = False

    @contextmanager
    def decision(self) -> Iterator[None]:
        """One database transaction for the decision's events, rows and handled mark."""
        if self._in_decision:
            raise RuntimeError("a decision is already open on this outbox")
        recorded: HandlerError | None = None
        self._in_decision = True
        try:
            with transaction.atomic():
                try:
                    yield
                except HandlerError as error:
                    if self.source is None:
                        raise  # no received message to dead-letter: nothing of the decision is kept
                    self.dead_letter_current_message(error.category, str(error))
                    recorded = error
                self._mark_handled()
        except IntegrityError:
            self._marked = False
            if self._handled_elsewhere():
                raise AlreadyHandled(f"message {self.source.message_id} was handled by another consumer") from None
            raise
        except BaseException:
            self._marked = False
            raise
        finally:
            self._in_decision = False
        if recorded is not None:
            recorded.recorded = True
            raise recorded

    def send(
        self,
        queue_key: str,
        event: Mapping[str, Any],
        tracing_info: Mapping[str, Any],
        visibility_seconds: int = 0,
    ) -> None:
        """Send a v2 QueueEvent to a queue, visible after `visibility_seconds`, with the queue's TTL.

        An unknown queue, a message over the queue's 64 KiB limit, or a visibility delay over 7 days or
        not shorter than the queue's TTL is a programming error: it raises ValueError here, inside the
        handler, so the message is dead-lettered as PROCESSING_ERROR (the queue service would refuse it).
        """
        if queue_key not in QUEUES:
            raise ValueError(f"no queue {queue_key!r}")
        visibility_seconds = max(0, int(visibility_seconds))
        ttl = time_to_live(queue_key)
        if visibility_seconds > MAX_VISIBILITY_SECONDS or (ttl != -1 and visibility_seconds >= ttl):
            raise ValueError(
                f"visibility of {visibility_seconds} s for {queue_key} is over {MAX_VISIBILITY_SECONDS} s "
                f"or not shorter than the queue's TTL ({ttl} s)"
            )
        text = serialize_queue_event(event, tracing_info)
        if len(text.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError(f"message for {queue_key} is larger than {MAX_MESSAGE_BYTES} bytes")
        context = (event.get("transactionId") or "", event.get("eventCode") or "")
        self._write(queue_key, text, visibility_seconds, context)

    def dead_letter_current_message(self, category: DeadLetterCategory, error: str) -> None:
        """Dead-letter the message being handled (the handling itself may carry on: spec explicit DLQ writes)."""
        source = self.source
        if source is None:
            raise RuntimeError("this outbox belongs to no received message: there is nothing to dead-letter")
        transaction_id, event_code = event_context(source.text)
        text = build_wrapper(
            DeadLetterCategory(category),
            source.text,
            source.queue_key,
            error,
            source.dequeue_count,
            transaction_id=transaction_id,
            event_code=event_code,
        )
        self._write(DEAD_LETTER_QUEUE, text, 0, (transaction_id or "", event_code or ""), is_dead_letter=True)

    def _write(
        self, queue_key: str, text: str, visibility: int, context: tuple[str, str], is_dead_letter: bool = False
    ) -> None:
        if not self._in_decision:
            raise RuntimeError("follow-ups are written inside `with outbox.decision():`")
        now = timezone.now()
        row = OutboxMessage.objects.create(
            id=uuid.uuid4(),
            queue_key=queue_key,
            text=text,
            visibility_seconds=visibility,
            time_to_live_seconds=time_to_live(queue_key),
            trace_context=current_trace_context(),
            is_dead_letter=is_dead_letter,
            transaction_id=context[0][:64],
            event_code=context[1][:100],
            source_queue=self.source.queue_key if self.source else "",
            source_message_id=self.source.message_id if self.source else "",
            created_at=now,
            available_at=relay_sweep_start(now),
        )
        transaction.on_commit(lambda: self.committed_row_ids.append(row.id))

    def _mark_handled(self) -> None:
        source = self.source
        if source is None or not source.message_id or self._marked:
            return
        # The decision's last statement: if it fails, nothing of the decision is kept.
        HandledMessage.objects.create(queue_message_id=source.message_id, queue=source.queue_key)
        self._marked = True

    def _handled_elsewhere(self) -> bool:
        source = self.source
        return bool(source and source.message_id) and HandledMessage.objects.filter(pk=source.message_id).exists()


def relay_sweep_start(decided_at: datetime) -> datetime:
    """When the relay sweep may take a row decided at `decided_at` (the deciding process sends it before)."""
    return decided_at + timedelta(seconds=settings.DISPATCHER.OUTBOX_RELAY_GRACE_SECONDS)


def current_trace_context() -> dict[str, str]:
    """The W3C trace context of the current span, so the relay's send span joins the decision's trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def was_handled(message_id: str) -> bool:
    """Whether a decision for this queue message is committed (its redelivery is then a no-op)."""
    return HandledMessage.objects.filter(pk=message_id).exists()
