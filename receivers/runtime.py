"""The consumer process: one polling thread per receiver, one shared pool of handler threads.

A `Receiver` polls one queue: receive a batch, hand its messages to the pool, wait for them, log the
batch, repeat; it sleeps with a doubling back-off while its queue is empty or unreachable, and takes
no new batch while stopped. `Consumer` owns the receivers, the pool, the running totals, and the
shutdown flag that SIGTERM/SIGINT set (spec Part A §3, §8).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from azure.storage.queue import QueueMessage as ReceivedMessage

from receivers.processing import INFRASTRUCTURE_ERRORS, Outcome, process_message
from receivers.queues import QUEUES, cached_queue_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerOptions:
    batch_size: int = 32
    visibility_timeout: int = 60
    poll_interval: float = 1.0
    max_poll_interval: float = 10.0
    worker_threads: int = 8
    once: bool = False
    max_messages: int | None = None


@dataclass
class Totals:
    """Outcomes counted across every receiver of the process."""

    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcomes: list[Outcome]) -> None:
        with self.lock:
            for outcome in outcomes:
                self.counts[outcome] += 1

    def handled(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        counts = self.counts
        return (
            f"processed={counts[Outcome.PROCESSED]} retried={counts[Outcome.RETRIED]} "
            f"dead-lettered={counts[Outcome.DEAD_LETTERED]} rate={self.handled() / elapsed:.1f} msg/s "
            f"over {elapsed:.1f}s"
        )


class Quota:
    """What is left of --max-messages, shared by the receivers of the process."""

    def __init__(self, limit: int | None):
        self.left = limit
        self.lock = threading.Lock()

    def take(self, wanted: int) -> int:
        if self.left is None:
            return wanted
        with self.lock:
            granted = min(wanted, self.left)
            self.left -= granted
            return granted

    def give_back(self, unused: int) -> None:
        if self.left is not None and unused > 0:
            with self.lock:
                self.left += unused

    @property
    def exhausted(self) -> bool:
        return self.left is not None and self.left <= 0


class Receiver:
    """One queue's polling loop in its own thread; `running` is its START/STOP state."""

    def __init__(self, queue_key: str, consumer: Consumer):
        self.queue_key = queue_key
        self.name = QUEUES[queue_key].receiver_name
        self.consumer = consumer
        self.running = threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self.run, name=f"receiver-{queue_key}", daemon=True)
        self.heartbeat = time.monotonic()
        self.crashed = False

    def status(self) -> str:
        """UP, DOWN, or UNKNOWN when the loop crashed or has not come round for longer than it should."""
        if self.crashed:
            return "UNKNOWN"
        if not self.running.is_set() or self.consumer.shutdown.is_set() or not self.thread.is_alive():
            return "DOWN"
        options = self.consumer.options
        stale_after = options.visibility_timeout + options.max_poll_interval + 10
        return "UP" if time.monotonic() - self.heartbeat < stale_after else "UNKNOWN"

    def run(self) -> None:
        try:
            self.loop()
        except Exception:
            self.crashed = True
            logger.exception("receiver of %s crashed", self.queue_key)
            raise

    def loop(self) -> None:
        """Steps: wait while stopped; receive a batch; process it on the pool; back off when idle."""
        consumer = self.consumer
        idle_wait = consumer.options.poll_interval
        while not consumer.shutdown.is_set():
            self.heartbeat = time.monotonic()
            if not self.running.is_set():
                if consumer.options.once:
                    logger.warning("%s is stopped: --once leaves its messages alone", self.queue_key)
                    return
                self.running.wait(timeout=1)
                continue
            handled = self.poll_once()
            if handled is None or handled == 0:
                if consumer.options.once or consumer.quota.exhausted:
                    return
                consumer.shutdown.wait(timeout=idle_wait)
                idle_wait = min(max(idle_wait * 2, 0.1), consumer.options.max_poll_interval)
            else:
                idle_wait = consumer.options.poll_interval
                if consumer.quota.exhausted:
                    return

    def poll_once(self) -> int | None:
        """Receive and process one batch; the number handled, or None when the queue was unreachable."""
        options = self.consumer.options
        wanted = self.consumer.quota.take(options.batch_size)
        if wanted == 0:
            return 0
        try:
            batch = self.receive(wanted, options.visibility_timeout)
        except INFRASTRUCTURE_ERRORS as error:
            self.consumer.quota.give_back(wanted)
            logger.warning("cannot receive from %s: %s: %s", self.queue_key, type(error).__name__, error)
            return None
        self.consumer.quota.give_back(wanted - len(batch))
        if not batch:
            return 0
        started = time.monotonic()
        outcomes = list(self.consumer.pool.map(lambda message: process_message(self.queue_key, message), batch))
        self.consumer.totals.add(outcomes)
        logger.info(
            "%s: batch of %d in %.3fs: %d processed, %d retried, %d dead-lettered",
            self.queue_key,
            len(batch),
            time.monotonic() - started,
            outcomes.count(Outcome.PROCESSED),
            outcomes.count(Outcome.RETRIED),
            outcomes.count(Outcome.DEAD_LETTERED),
        )
        if Outcome.RETRIED in outcomes:
            # Something the handlers stand on is failing: give it a moment before the next batch.
            self.consumer.shutdown.wait(timeout=options.poll_interval)
        return len(batch)

    def receive(self, count: int, visibility_timeout: int) -> list[ReceivedMessage]:
        client = cached_queue_client(self.queue_key)
        # Without messages_per_page the SDK fetches one message per HTTP call.
        pages = client.receive_messages(
            max_messages=count, messages_per_page=count, visibility_timeout=visibility_timeout
        ).by_page()
        return list(next(pages, []))


class Consumer:
    """The receivers of one process, their handler pool, totals and shutdown flag."""

    def __init__(self, queue_keys: list[str], options: ConsumerOptions):
        self.options = options
        self.shutdown = threading.Event()
        self.totals = Totals()
        self.quota = Quota(options.max_messages)
        self.pool = ThreadPoolExecutor(max_workers=options.worker_threads, thread_name_prefix="handler")
        self.receivers = [Receiver(key, self) for key in queue_keys]

    def set_running(self, running: bool) -> None:
        for receiver in self.receivers:
            (receiver.running.set if running else receiver.running.clear)()

    def start(self) -> None:
        for receiver in self.receivers:
            receiver.thread.start()

    def alive(self) -> bool:
        return any(receiver.thread.is_alive() for receiver in self.receivers)

    def join(self, timeout: float) -> None:
        for receiver in self.receivers:
            receiver.thread.join(timeout)

    def close(self) -> None:
        """Wait for in-flight messages, then release the pool."""
        self.pool.shutdown(wait=True)
