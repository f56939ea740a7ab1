"""The consumer process: one polling thread per receiver, one shared pool of handler threads, and the
outbox relay sweep (`receivers.relay`).

A `Receiver` polls one queue: receive a batch, hand its messages to the pool, and receive the next
while they are handled; it sleeps with a doubling back-off while its queue is empty or unreachable,
and takes no new batch while stopped (messages already received are finished). `Consumer` owns the
receivers, the pool, the running totals, and the shutdown flag that SIGTERM/SIGINT set (spec Part A
§3, §8).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from azure.storage.queue import QueueMessage as ReceivedMessage

from receivers import activity
from receivers.processing import INFRASTRUCTURE_ERRORS, Outcome, process_message
from receivers.queues import QUEUES, cached_queue_client
from receivers.relay import OutboxRelay

logger = logging.getLogger(__name__)

# Longest wait before a crashed receiver loop runs again, in seconds.
MAX_RESTART_DELAY = 60.0
# How long closing waits for the relay sweep's pass in progress: a queue send takes at most 35 s.
RELAY_JOIN_SECONDS = 40.0


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
    receive_calls: int = 0
    received: int = 0

    def add(self, outcomes: list[Outcome]) -> None:
        with self.lock:
            for outcome in outcomes:
                self.counts[outcome] += 1

    def add_receive(self, messages: int) -> None:
        with self.lock:
            self.receive_calls += 1
            self.received += messages

    def handled(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        counts = self.counts
        per_receive = self.received / self.receive_calls if self.receive_calls else 0.0
        return (
            f"processed={counts[Outcome.PROCESSED]} retried={counts[Outcome.RETRIED]} "
            f"dead-lettered={counts[Outcome.DEAD_LETTERED]} rate={self.handled() / elapsed:.1f} msg/s "
            f"messages-per-receive={per_receive:.1f} over {elapsed:.1f}s"
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


class Budget:
    """Messages the whole process may hold at once, shared by every receiver.

    Received messages hold their place until handled. The budget is twice the handler threads: every
    message has a thread, or waits behind at most one handler that is already running, so none sits
    in the pool long enough to outlive its lease unseen (however many queues the process serves).
    A receiver asks for a batch once half the budget is free, not for each place as it frees: until
    then every handler thread is still busy, so waiting costs nothing, and one receive call then
    brings many messages, as the raw SDK's drain does.
    """

    def __init__(self, size: int):
        self.size = size
        self.free = size
        self.changed = threading.Condition()

    def reserve(self, wanted: int, timeout: float = 1.0) -> int:
        """Take up to `wanted` places once that many, or half the budget, are free; 0 after `timeout`."""
        enough = max(1, min(wanted, self.size // 2))
        with self.changed:
            if not self.changed.wait_for(lambda: self.free >= enough, timeout=timeout):
                return 0
            granted = min(wanted, self.free)
            self.free -= granted
            return granted

    def release(self, count: int = 1) -> None:
        if count <= 0:
            return
        with self.changed:
            self.free += count
            self.changed.notify_all()


class Receiver:
    """One queue's polling loop in its own thread; `running` is its START/STOP state.

    It receives only as many messages as the process-wide budget has room for, so the next batch comes
    while the end of the previous one is still being handled, but nothing piles up behind the pool.
    """

    def __init__(self, queue_key: str, consumer: Consumer):
        self.queue_key = queue_key
        self.name = QUEUES[queue_key].receiver_name
        self.consumer = consumer
        self.running = threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self.run, name=f"receiver-{queue_key}", daemon=True)
        self.heartbeat = time.monotonic()
        self.crashed = False
        self.saw_retry = False
        # Whether a receive ever worked, and whether one failed: `--once` reports a queue never read.
        self.read_queue = False
        self.failed_to_read = False

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
        """The loop, restarted after a crash with a doubling delay (this queue's receiver only: the other
        queues of the process keep working, and the status says UNKNOWN until the loop runs again)."""
        delay = max(self.consumer.options.poll_interval, 0.1)
        while True:
            started = time.monotonic()
            try:
                self.loop()
                return
            except Exception:
                self.crashed = True
                if self.consumer.options.once:
                    logger.exception("receiver of %s crashed; --once does not restart it", self.queue_key)
                    return  # `crashed` stays set: the command exits 1
                logger.exception("receiver of %s crashed; restarting in %.1f s", self.queue_key, delay)
            if time.monotonic() - started > MAX_RESTART_DELAY:
                delay = max(self.consumer.options.poll_interval, 0.1)  # it had been running fine for a while
            if self.consumer.shutdown.wait(timeout=delay):
                return
            delay = min(delay * 2, MAX_RESTART_DELAY)
            self.crashed = False

    def loop(self) -> None:
        """Steps: wait while stopped; wait for room; still running? receive a batch onto the pool; back off
        when idle. The room is taken before the last running check, so a receive never starts unseen by
        `in_flight()` after a STOP was applied."""
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
            if self.saw_retry:
                # Something the handlers stand on is failing: give it a moment before the next batch.
                self.saw_retry = False
                consumer.shutdown.wait(timeout=consumer.options.poll_interval)
            room = consumer.budget.reserve(consumer.options.batch_size)
            if room == 0:
                continue
            if not self.running.is_set() or consumer.shutdown.is_set():
                # STOP (or SIGTERM) came while waiting for room: the room held counted as in flight, so
                # whoever waits for "stopped, nothing in flight" (the deploy gate) waited for this check.
                consumer.budget.release(room)
                continue
            received = self.poll_once(room)
            if received is None or received == 0:
                if consumer.options.once or consumer.quota.exhausted:
                    return
                consumer.shutdown.wait(timeout=idle_wait)
                idle_wait = min(max(idle_wait * 2, 0.1), consumer.options.max_poll_interval)
            else:
                idle_wait = consumer.options.poll_interval
                if consumer.quota.exhausted:
                    return

    def poll_once(self, room: int) -> int | None:
        """Receive up to `room` reserved messages and hand them to the pool; the number received, or
        None when unreachable. Places not filled go back to the budget."""
        quota, budget = self.consumer.quota, self.consumer.budget
        wanted = quota.take(room)
        if wanted == 0:
            budget.release(room)
            return 0
        try:
            messages = self.receive(wanted, self.consumer.options.visibility_timeout)
        except INFRASTRUCTURE_ERRORS as error:
            self.failed_to_read = True
            quota.give_back(wanted)
            budget.release(room)
            logger.warning("cannot receive from %s: %s: %s", self.queue_key, type(error).__name__, error)
            return None
        except BaseException:
            self.failed_to_read = True
            quota.give_back(wanted)
            budget.release(room)
            raise
        self.read_queue = True
        quota.give_back(wanted - len(messages))
        budget.release(room - len(messages))
        if messages:
            self.consumer.totals.add_receive(len(messages))
        activity.received(self.queue_key, len(messages))
        for message in messages:
            self.consumer.pool.submit(self.process, message)
        return len(messages)

    def process(self, message: ReceivedMessage) -> None:
        """On a pool thread: handle one message, then count it and free its place."""
        outcome = Outcome.RETRIED
        try:
            outcome = process_message(self.queue_key, message)
        finally:
            self.consumer.totals.add([outcome])
            activity.record(self.queue_key, outcome)
            self.saw_retry = self.saw_retry or outcome == Outcome.RETRIED
            self.consumer.budget.release()

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
        self.budget = Budget(2 * options.worker_threads)
        self.pool = ThreadPoolExecutor(max_workers=options.worker_threads, thread_name_prefix="handler")
        self.receivers = [Receiver(key, self) for key in queue_keys]
        self.relay = OutboxRelay(self.shutdown)

    def set_running(self, running: bool) -> None:
        if running and self.shutdown.is_set():
            # A process draining after SIGTERM is going away: START must not bring it back (old pods of a deploy).
            logger.info("START ignored: this process is shutting down")
            return
        for receiver in self.receivers:
            (receiver.running.set if running else receiver.running.clear)()

    def start(self) -> None:
        for receiver in self.receivers:
            receiver.thread.start()
        if not self.options.once:
            self.relay.thread.start()

    def in_flight(self) -> int:
        """Messages received and not yet finished (places taken in the budget)."""
        return self.budget.size - self.budget.free

    def alive(self) -> bool:
        return any(receiver.thread.is_alive() for receiver in self.receivers)

    def join(self, timeout: float) -> None:
        for receiver in self.receivers:
            receiver.thread.join(timeout)

    def close(self) -> None:
        """Wait for in-flight messages and the relay sweep's current pass (a send cut off before its row
        is marked would be sent again), release the pool; with --once, relay what is due once."""
        self.pool.shutdown(wait=True)
        if self.relay.thread.is_alive():
            self.relay.thread.join(timeout=RELAY_JOIN_SECONDS)
        if self.options.once:
            self.relay.pass_once()
