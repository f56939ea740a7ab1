"""How fast `consume_queue` drains a queue, against the raw SDK measured in the same run.

Every leg starts its own fresh in-memory Azurite (its cost grows with queue depth and its garbage
collection can stall after many deletes), fills one queue with N messages, then drains it:
- raw: the SDK alone, one thread, pages of 32 (`messages_per_page=32`), delete each message;
- no-op: `manage.py consume_queue probe --once` running the probe's no-op handler, 1 and 2 processes;
- forward: one process whose probes each send one follow-up through the transactional outbox (spec
  Part A §11: the decision commits an outbox row and the handled mark, the runtime sends the row and
  marks it sent), so `forward - no-op` is what a follow-up costs; with `--baseline CHECKOUT` the same
  leg also runs the consumer of another checkout (e.g. the commit before the outbox) in the round;
- expiration: the real expiration handler on N ACTIVATED transactions whose token expired (seeded by
  `bench/expiration_seed.py`; each message appends EXPIRED and updates the view), on PostgreSQL with
  1 process, 2 processes and one `--processes 2` command, and on SQLite with 1 process; compared with
  a raw drain of the same expiration messages.
Consumer rates are given two ways: wall-clock from process start to exit (Django start-up, about a
second, included) and the drain time the consumers report themselves (from creating their receivers
to their last message; the slowest process counts). Rounds (default 3) are interleaved and each leg
is compared with the raw drain of its own round, because the machine is shared and a neighbour's load
moves everything; the per-round ratios are summarised by their median.

Targets: no-op, one process >= 0.9 x raw; expiration on PostgreSQL, one process >= 0.8 x raw and two
processes (either way) >= 0.95 x raw; expiration on SQLite, one process >= 0.6 x raw.

Usage: .venv/bin/python bench/consumer_throughput.py [N [ROUNDS]] [--baseline CHECKOUT] [--only LEG ...]
(PostgreSQL legs use POSTGRES_BENCH_URL, default postgres://postgres@127.0.0.1:5432/bench_consumer.)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.storage.queue import QueueClient  # noqa: E402

from dispatcher_site import local_servers  # noqa: E402

PROBE_QUEUE = "bench-probe-queue"
EXPIRATION_QUEUE = "bench-expiration-queue"
# The follow-ups of the forwarding leg go to the expiration queue's key, renamed to this queue.
SINK_QUEUE = "bench-sink-queue"
TRACEPARENT = "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"
POSTGRES_URL = os.environ.get("POSTGRES_BENCH_URL", "postgres://postgres@127.0.0.1:5432/bench_consumer")
TARGETS = {"no-op 1p": 0.9, "expiration pg 1p": 0.8, "expiration pg 2p": 0.95, "expiration sqlite 1p": 0.6}


def probe_text(data: dict | None = None) -> str:
    event = {
        "_class": "it.pagopa.ecommerce.eventdispatcher.diagnostics.ProbeEvent",
        "id": str(uuid.uuid4()),
        "transactionId": uuid.uuid4().hex,
        "creationDate": "2026-11-27T10:00:00.000000+01:00[Europe/Rome]",
        "data": data or {},
        "eventCode": "PROBE_EVENT",
    }
    return json.dumps({"event": event, "tracingInfo": {"traceparent": TRACEPARENT, "tracestate": None}})


class FreshAzurite:
    """A new in-memory Azurite with `texts` on `queue` (and the forwarding leg's sink queue)."""

    def __init__(self, texts: list[str], queue: str):
        self.texts = texts
        self.queue = queue

    def __enter__(self) -> FreshAzurite:
        port = local_servers.free_port()
        self.process = local_servers.start_azurite(port)
        self.connection_string = local_servers.azurite_connection_string(port)
        client = self.client(self.queue)
        client.create_queue()
        self.client(SINK_QUEUE).create_queue()
        with ThreadPoolExecutor(8) as pool:  # filling is not what is measured
            list(pool.map(client.send_message, self.texts))
        return self

    def client(self, queue: str) -> QueueClient:
        return QueueClient.from_connection_string(self.connection_string, queue)

    def length(self, queue: str) -> int:
        return self.client(queue).get_queue_properties().approximate_message_count

    def __exit__(self, *exc) -> None:
        local_servers.stop(self.process)


@dataclass
class Drain:
    """One drain: wall-clock seconds (process start-up included) and the consumers' own drain time."""

    wall_seconds: float
    drain_seconds: float
    per_receive: float = 0.0
    summaries: list[str] = field(default_factory=list)


def raw_sdk_drain(azurite: FreshAzurite) -> Drain:
    client = azurite.client(azurite.queue)
    drained, started = 0, time.monotonic()
    while drained < len(azurite.texts):
        page = client.receive_messages(max_messages=32, messages_per_page=32, visibility_timeout=60)
        for message in next(page.by_page(), []):
            client.delete_message(message)
            drained += 1
    seconds = time.monotonic() - started
    return Drain(seconds, seconds)


def consumer_environment(azurite: FreshAzurite, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        # As in production: debug off (Django's debug cursor would record every statement).
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SECURITY_API_KEYS_PRIMARY": "bench-api-key",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "DATABASE_URL": database_url,
        "QUEUE_TRANSIENT_CONNECTION_STRING": azurite.connection_string,
        "QUEUE_DEADLETTER_CONNECTION_STRING": azurite.connection_string,
        "DIAGNOSTIC_PROBE_QUEUE_NAME": PROBE_QUEUE,
        "TRANSACTIONS_EXPIRATION_QUEUE_NAME": EXPIRATION_QUEUE if azurite.queue == EXPIRATION_QUEUE else SINK_QUEUE,
        # A stream of its own, so no command left in Redis by someone else stops the benchmark.
        "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY": f"bench-commands-{uuid.uuid4()}",
    }


def consumer_drain(
    azurite: FreshAzurite,
    queue_key: str,
    database_url: str,
    workdir: Path,
    processes: int = 1,
    options: tuple[str, ...] = (),
    checkout: Path = ROOT,
) -> Drain:
    """`processes` separate `consume_queue QUEUE --once` processes (plus `options`), started together."""
    env = consumer_environment(azurite, database_url)
    command = [sys.executable, str(checkout / "manage.py"), "consume_queue", queue_key, "--once", *options]
    logs = [workdir / f"consumer-{uuid.uuid4().hex[:8]}.log" for _ in range(processes)]
    started = time.monotonic()
    running = [subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    codes = [process.wait() for process in running]
    elapsed = time.monotonic() - started
    if any(codes):
        raise SystemExit(f"consumer exited with {codes}; see {workdir}")
    summaries = [line for log in logs for line in log.read_text().splitlines() if line.startswith("finished:")]
    # "finished: processed=… messages-per-receive=… over 7.3s": each consumer's own time consuming.
    own = [float(re.search(r"over ([0-9.]+)s", line).group(1)) for line in summaries]
    per_receive = [float(m.group(1)) for line in summaries if (m := re.search(r"per-receive=([0-9.]+)", line))]
    return Drain(elapsed, max(own), statistics.mean(per_receive) if per_receive else 0.0, summaries)


def seed_expirations(count: int, database_url: str, workdir: Path) -> list[str]:
    messages = workdir / "expirations.txt"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_DEBUG": "true", "LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "expiration_seed.py"), str(count), str(messages)], env=env, check=True
    )
    return messages.read_text().split("\n")[:count]


def sqlite_url(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / (name + '.sqlite3')}"


def migrate(database_url: str, checkout: Path = ROOT) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_DEBUG": "true"}
    subprocess.run([sys.executable, str(checkout / "manage.py"), "migrate", "-v", "0"], env=env, check=True)


# --- legs: each returns its Drain after checking that everything was consumed ------------------------


def no_op_leg(count: int, workdir: Path, processes: int) -> Drain:
    with FreshAzurite([probe_text() for _ in range(count)], PROBE_QUEUE) as azurite:
        drain = consumer_drain(azurite, "probe", sqlite_url(workdir, "probe"), workdir, processes)
        left = azurite.length(PROBE_QUEUE)
    if left:
        raise SystemExit(f"FAIL: {left} probes were not consumed by {processes} process(es)")
    return drain


def forward_leg(count: int, workdir: Path, checkout: Path = ROOT) -> Drain:
    texts = [probe_text({"forwardTo": "expiration"}) for _ in range(count)]
    database = sqlite_url(workdir, f"forward-{checkout.name}")
    with FreshAzurite(texts, PROBE_QUEUE) as azurite:
        drain = consumer_drain(azurite, "probe", database, workdir, checkout=checkout)
        left, forwarded = azurite.length(PROBE_QUEUE), azurite.length(SINK_QUEUE)
    if left or forwarded != count:
        raise SystemExit(f"FAIL: {left} probes left and {forwarded} of {count} follow-ups sent ({checkout})")
    return drain


def expiration_leg(count: int, workdir: Path, database_url: str, processes: int, *options: str) -> Drain:
    texts = seed_expirations(count, database_url, workdir)
    with FreshAzurite(texts, EXPIRATION_QUEUE) as azurite:
        drain = consumer_drain(azurite, "expiration", database_url, workdir, processes, options)
        left = azurite.length(EXPIRATION_QUEUE)
    if left:
        raise SystemExit(f"FAIL: {left} expiration messages were not consumed")
    return drain


def raw_leg(texts: list[str], queue: str) -> Drain:
    with FreshAzurite(texts, queue) as azurite:
        return raw_sdk_drain(azurite)


def legs(count: int, workdir: Path, baseline: Path | None) -> dict[str, tuple[str, Callable[[], Drain]]]:
    """Every leg by name, with the raw drain it is compared with."""
    sqlite_expirations = sqlite_url(workdir, "expiration")
    chosen: dict[str, tuple[str, Callable[[], Drain]]] = {
        "no-op 1p": ("raw probes", lambda: no_op_leg(count, workdir, 1)),
        "no-op 2p": ("raw probes", lambda: no_op_leg(count, workdir, 2)),
        "forward 1p": ("raw probes", lambda: forward_leg(count, workdir)),
        "expiration pg 1p": ("raw expirations", lambda: expiration_leg(count, workdir, POSTGRES_URL, 1)),
        "expiration pg 2p": ("raw expirations", lambda: expiration_leg(count, workdir, POSTGRES_URL, 2)),
        "expiration pg --processes 2": (
            "raw expirations",
            lambda: expiration_leg(count, workdir, POSTGRES_URL, 1, "--processes", "2"),
        ),
        "expiration sqlite 1p": ("raw expirations", lambda: expiration_leg(count, workdir, sqlite_expirations, 1)),
    }
    if baseline is not None:
        chosen["baseline forward 1p"] = ("raw probes", lambda: forward_leg(count, workdir, baseline))
    return chosen


def main(count: int, rounds: int, baseline: Path | None = None, only: list[str] | None = None) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="consumer-bench-"))
    for name in ("probe", "forward-" + ROOT.name, "expiration"):
        migrate(sqlite_url(workdir, name))
    if baseline is not None:
        migrate(sqlite_url(workdir, "forward-" + baseline.name), baseline)
    chosen = {name: leg for name, leg in legs(count, workdir, baseline).items() if not only or name in only}
    raw_texts = {
        "raw probes": lambda: [probe_text() for _ in range(count)],
        "raw expirations": lambda: seed_expirations(count, POSTGRES_URL, workdir),
    }
    ratios: dict[str, list[float]] = {name: [] for name in chosen}
    walls: dict[str, list[float]] = {name: [] for name in chosen}
    per_receive: dict[str, list[float]] = {name: [] for name in chosen}
    milliseconds: dict[str, list[float]] = {name: [] for name in chosen}
    raw_rates: dict[str, list[float]] = {name: [] for name in raw_texts}
    for round_number in range(1, rounds + 1):
        raw = {}
        for name, texts in raw_texts.items():
            if any(base == name for base, _ in chosen.values()):
                queue = PROBE_QUEUE if name == "raw probes" else EXPIRATION_QUEUE
                raw[name] = count / raw_leg(texts(), queue).drain_seconds
                raw_rates[name].append(raw[name])
        line = [f"round {round_number}: " + ", ".join(f"{name} {rate:.0f} msg/s" for name, rate in raw.items())]
        for name, (base, run) in chosen.items():
            drain = run()
            rate = count / drain.drain_seconds
            ratios[name].append(rate / raw[base])
            walls[name].append(count / drain.wall_seconds / raw[base])
            per_receive[name].append(drain.per_receive)
            milliseconds[name].append(1000 * drain.drain_seconds / count)
            line.append(f"{name} {rate:.0f} msg/s ({rate / raw[base]:.2f} x)")
        print("; ".join(line), flush=True)
    print(f"\nN={count}, {rounds} rounds, medians; wall = process start to exit, drain = the consumers' own time")
    for name, rates in raw_rates.items():
        if rates:
            print(f"  {name}: raw SDK (1 thread, pages of 32, delete each) {statistics.median(rates):.0f} msg/s")
    verdict = 0
    for name in chosen:
        ratio = statistics.median(ratios[name])
        target = TARGETS.get(name) or (TARGETS["expiration pg 2p"] if name.startswith("expiration pg --") else None)
        outcome = ""
        if target is not None:
            outcome = f"  target {target} x: {'met' if ratio >= target else 'MISSED'}"
            verdict |= ratio < target
        print(
            f"  {name}: {ratio:.2f} x raw (drain), {statistics.median(walls[name]):.2f} x (wall), "
            f"{statistics.median(milliseconds[name]):.2f} ms/msg, "
            f"{statistics.median(per_receive[name]):.1f} messages per receive{outcome}"
        )
    for name in ("forward 1p", "baseline forward 1p"):
        if name in chosen and "no-op 1p" in chosen:
            costs = [f - n for f, n in zip(milliseconds[name], milliseconds["no-op 1p"], strict=True)]
            print(f"  {name}: a follow-up adds a median {statistics.median(costs):.2f} ms per message to no-op")
    return verdict


if __name__ == "__main__":
    arguments = sys.argv[1:]
    baseline_checkout, only_legs = None, []
    if "--baseline" in arguments:
        at = arguments.index("--baseline")
        baseline_checkout = Path(arguments[at + 1]).resolve()
        del arguments[at : at + 2]
    while "--only" in arguments:
        at = arguments.index("--only")
        only_legs.append(arguments[at + 1])
        del arguments[at : at + 2]
    sys.exit(
        main(
            int(arguments[0]) if arguments else 1000,
            int(arguments[1]) if len(arguments) > 1 else 3,
            baseline_checkout,
            only_legs,
        )
    )
