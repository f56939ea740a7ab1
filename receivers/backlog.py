"""What waits on each queue, as the queue service tells it (issue 13, Deliver 1).

1. Backlog: the queue's approximate message count (visible and hidden: a scheduled retry waits too).
2. Age of the oldest visible message: the first message a peek returns (the service keeps roughly
   the order of insertion), now minus its insertion time; None when nothing is visible.
3. Every registered queue is read at once on a small thread pool, within a time limit; a queue that
   cannot be read (or not in time) carries its error instead of figures, and the others are shown.
4. `peek()` lists up to 32 visible messages of one queue (the list behind the figures), read-only.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError
from django.utils import timezone

from receivers.messages import event_context
from receivers.queues import QUEUES, queue_client

READ_LIMIT_SECONDS = 5.0


@dataclass(frozen=True)
class QueueBacklog:
    key: str
    name: str
    backlog: int | None = None
    oldest_visible_age_seconds: float | None = None
    error: str = ""


@dataclass(frozen=True)
class PeekedMessage:
    id: str
    inserted_on: datetime | None
    dequeue_count: int
    transaction_id: str
    event_code: str
    text: str


def read_backlog(key: str) -> QueueBacklog:
    """One queue's figures; a queue service error is kept in `error`."""
    definition = QUEUES[key]
    try:
        client = queue_client(key)
        count = client.get_queue_properties().approximate_message_count
        oldest = next(iter(client.peek_messages(max_messages=1)), None)
    except AzureError as error:
        return QueueBacklog(key, definition.name, error=f"{type(error).__name__}: {str(error).splitlines()[0]}")
    age = None
    if oldest is not None and oldest.inserted_on is not None:
        age = max((timezone.now() - oldest.inserted_on).total_seconds(), 0.0)
    return QueueBacklog(key, definition.name, count, age)


def read_backlogs(keys: list[str] | None = None) -> dict[str, QueueBacklog]:
    """Every queue's figures (all registered queues when `keys` is None), read in parallel."""
    keys = list(QUEUES) if keys is None else keys
    # One thread per queue: a slow queue service costs one time limit, and no read waits in line.
    pool = ThreadPoolExecutor(max_workers=max(len(keys), 1), thread_name_prefix="backlog")
    futures = {key: pool.submit(read_backlog, key) for key in keys}
    wait(futures.values(), timeout=READ_LIMIT_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)
    return {key: _answer(key, future) for key, future in futures.items()}


def _answer(key: str, future) -> QueueBacklog:
    """What a read gave; a read cut off by the time limit, or failing otherwise, is an `error`."""
    if not future.done() or future.cancelled():
        return QueueBacklog(key, QUEUES[key].name, error=f"no answer within {READ_LIMIT_SECONDS:g} s")
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - a page of figures shows what one queue's read raised
        return QueueBacklog(key, QUEUES[key].name, error=f"{type(error).__name__}: {error}")


def peek(key: str, count: int = 32) -> list[PeekedMessage]:
    """Up to `count` (at most 32) visible messages of a queue, oldest first; they stay on the queue."""
    messages = []
    for message in queue_client(key).peek_messages(max_messages=min(count, 32)):
        text = message.content or ""
        transaction_id, event_code = event_context(text)
        messages.append(
            PeekedMessage(
                message.id,
                message.inserted_on,
                message.dequeue_count or 0,
                transaction_id or "",
                event_code or "",
                text,
            )
        )
    return messages
