"""What the consumers report about their work, for the operator console (issue 13, Deliver 1 and 2).

1. The runtime tells this module when a batch arrives (`received`) and when each message of it is
   done, with its outcome (`record`). In memory, per process: the messages held per queue (in flight)
   and the outcomes per queue and minute.
2. A daemon thread adds the outcome counts to Redis every FLUSH_SECONDS, and once more at exit: one hash
   `queue-activity:<queue>:<epoch minute>` with a field per outcome (`processed`, `retried`,
   `dead_lettered`), expiring after ACTIVITY_TTL_SECONDS. Redis being down costs the consumer nothing:
   counts wait in memory (those older than the TTL are dropped) and go out with the next flush.
3. The web process reads them back with `queue_activity()`: per queue and outcome, the total of the last
   5 and 60 one-minute buckets (the current minute included) and the rate per minute over each window.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from receivers import control

logger = logging.getLogger(__name__)

KEY_PREFIX = "queue-activity:"
OUTCOMES = ("processed", "retried", "dead_lettered")
WINDOWS_MINUTES = (5, 60)
# Two hours: the longest window, and room for a consumer that could not reach Redis for a while.
ACTIVITY_TTL_SECONDS = 2 * 3600
FLUSH_SECONDS = 1.0

_lock = threading.Lock()
_in_flight: Counter[str] = Counter()
_pending: Counter[tuple[str, int, str]] = Counter()  # (queue, epoch minute, outcome) → count
_flusher: threading.Thread | None = None


def current_minute(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 60)


def received(queue_key: str, count: int) -> None:
    """A batch of `count` messages of this queue is now held by the process."""
    with _lock:
        _in_flight[queue_key] += count


def record(queue_key: str, outcome: str) -> None:
    """One message of this queue is done, with this outcome (processed, retried, dead_lettered)."""
    with _lock:
        _in_flight[queue_key] = max(_in_flight[queue_key] - 1, 0)
        _pending[(queue_key, current_minute(), str(outcome))] += 1
    _ensure_flusher()


def in_flight() -> dict[str, int]:
    """Messages held per queue key (received, not yet done) by this process."""
    with _lock:
        return {key: count for key, count in _in_flight.items() if count}


def flush() -> bool:
    """Send the counts gathered so far to Redis; False (counts kept) when Redis cannot be reached."""
    with _lock:
        taken = dict(_pending)
        _pending.clear()
    if not taken:
        return True
    try:
        connection = control.redis_connection()
        try:
            pipeline = connection.pipeline(transaction=False)
            for (queue_key, minute, outcome), count in taken.items():
                key = f"{KEY_PREFIX}{queue_key}:{minute}"
                pipeline.hincrby(key, outcome, count)
                pipeline.expire(key, ACTIVITY_TTL_SECONDS)
            pipeline.execute()
        finally:
            connection.close()
    except redis.exceptions.RedisError as error:
        _keep_for_later(taken)
        logger.warning("queue activity not reported yet (Redis: %s); kept for the next attempt", error)
        return False
    return True


def _keep_for_later(taken: dict[tuple[str, int, str], int]) -> None:
    oldest = current_minute() - ACTIVITY_TTL_SECONDS // 60
    with _lock:
        for (queue_key, minute, outcome), count in taken.items():
            if minute > oldest:
                _pending[(queue_key, minute, outcome)] += count


def _ensure_flusher() -> None:
    global _flusher
    if _flusher is not None:
        return
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(target=_flush_forever, name="queue-activity", daemon=True)
        _flusher.start()
    atexit.register(flush)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception:  # the consumer must not lose its reporting thread to a surprise; log and go on
            logger.exception("queue activity flush failed")


@dataclass(frozen=True)
class QueueActivity:
    """One queue's outcomes over the last 5 and 60 minutes: totals and per-minute rates."""

    totals: dict[int, dict[str, int]]  # window minutes → outcome → messages

    def total(self, window: int, outcome: str) -> int:
        return self.totals[window][outcome]

    def per_minute(self, window: int, outcome: str) -> float:
        return self.totals[window][outcome] / window


def queue_activity(queue_keys: Iterable[str], now: float | None = None) -> dict[str, QueueActivity]:
    """The reported outcomes of each queue (one Redis round trip). Redis errors propagate."""
    queue_keys = list(queue_keys)
    minutes = [current_minute(now) - back for back in range(max(WINDOWS_MINUTES))]
    connection = control.redis_connection()
    try:
        pipeline = connection.pipeline(transaction=False)
        for queue_key in queue_keys:
            for minute in minutes:
                pipeline.hgetall(f"{KEY_PREFIX}{queue_key}:{minute}")
        replies = pipeline.execute()
    finally:
        connection.close()
    activity = {}
    for index, queue_key in enumerate(queue_keys):
        buckets = replies[index * len(minutes) : (index + 1) * len(minutes)]
        activity[queue_key] = QueueActivity(
            {
                window: {
                    outcome: sum(int(bucket.get(outcome, 0)) for bucket in buckets[:window]) for outcome in OUTCOMES
                }
                for window in WINDOWS_MINUTES
            }
        )
    return activity
