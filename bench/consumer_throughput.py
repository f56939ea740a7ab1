"""How fast `consume_queue` drains a queue, against the raw SDK measured in the same run.

Each measurement starts its own fresh in-memory Azurite (its cost grows with queue depth and its
garbage collection can stall after many deletes), fills the probe queue with N probe QueueEvents,
then drains it:
1. raw SDK: one thread, pages of 32 (`messages_per_page=32`), delete each message;
2. `manage.py consume_queue probe --once` running the probe's no-op handler (one process);
3. the same with two consumer processes at once;
4. one process whose probes each send one follow-up through the transactional outbox (spec Part A
   §11: the decision commits an outbox row and the handled mark, the runtime sends the row and marks
   it sent), so `4 - 2` is what a follow-up costs; with `--baseline CHECKOUT` the same leg also runs
   the consumer of another checkout (e.g. the commit before the outbox) in the same round.
Consumer rates are given two ways: wall-clock from process start to exit (Django start-up, about a
second, included) and the drain time the consumer reports itself (from creating its receivers to its
last message). Rounds (default 3) are interleaved and each consumer is compared with the raw drain of
its own round, because the machine is shared and a neighbour's load moves everything.
Target: one consumer process drains at least 0.9 x as fast as the raw SDK.
Measured here: Azurite handles requests one at a time, so concurrent deletes do not beat one thread
(8 SDK threads deleting drained no faster than 1); the consumer's thread pool pays off with real
handlers, which wait on HTTP services, not on this no-op one.

Usage: .venv/bin/python bench/consumer_throughput.py [N [ROUNDS]] [--baseline CHECKOUT]
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.storage.queue import QueueClient  # noqa: E402

from dispatcher_site import local_servers  # noqa: E402

QUEUE_NAME = "bench-probe-queue"
# The follow-ups of the forwarding leg go to the expiration queue's key, renamed to this queue.
SINK_QUEUE_NAME = "bench-sink-queue"
TRACEPARENT = "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"
TARGET_RATIO = 0.9


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
    """A new in-memory Azurite with the probe queue holding `count` messages."""

    def __init__(self, count: int, data: dict | None = None):
        self.count = count
        self.data = data

    def __enter__(self) -> FreshAzurite:
        port = local_servers.free_port()
        self.process = local_servers.start_azurite(port)
        self.connection_string = local_servers.azurite_connection_string(port)
        client = QueueClient.from_connection_string(self.connection_string, QUEUE_NAME)
        client.create_queue()
        QueueClient.from_connection_string(self.connection_string, SINK_QUEUE_NAME).create_queue()
        texts = [probe_text(self.data) for _ in range(self.count)]
        with ThreadPoolExecutor(8) as pool:  # filling is not what is measured
            list(pool.map(client.send_message, texts))
        return self

    def __exit__(self, *exc) -> None:
        local_servers.stop(self.process)


def raw_sdk_drain(connection_string: str, count: int) -> float:
    client = QueueClient.from_connection_string(connection_string, QUEUE_NAME)
    drained, started = 0, time.monotonic()
    while drained < count:
        page = client.receive_messages(max_messages=32, messages_per_page=32, visibility_timeout=60)
        for message in next(page.by_page(), []):
            client.delete_message(message)
            drained += 1
    return time.monotonic() - started


@dataclass
class Drain:
    """One drain: wall-clock seconds (process start-up included) and the consumers' own drain time."""

    wall_seconds: float
    drain_seconds: float
    summaries: list[str] = field(default_factory=list)


def consumer_environment(connection_string: str, checkout: Path, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{workdir / (checkout.name + '-bench.sqlite3')}",
        "QUEUE_TRANSIENT_CONNECTION_STRING": connection_string,
        "QUEUE_DEADLETTER_CONNECTION_STRING": connection_string,
        "DIAGNOSTIC_PROBE_QUEUE_NAME": QUEUE_NAME,
        "TRANSACTIONS_EXPIRATION_QUEUE_NAME": SINK_QUEUE_NAME,
        # A stream of its own, so no command left in Redis by someone else stops the benchmark.
        "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY": f"bench-commands-{uuid.uuid4()}",
    }


def migrate(checkout: Path, workdir: Path) -> None:
    env = consumer_environment("", checkout, workdir)
    subprocess.run([sys.executable, str(checkout / "manage.py"), "migrate", "-v", "0"], env=env, check=True)


def consumer_drain(connection_string: str, processes: int, workdir: Path, checkout: Path = ROOT) -> Drain:
    env = consumer_environment(connection_string, checkout, workdir)
    command = [sys.executable, str(checkout / "manage.py"), "consume_queue", "probe", "--once"]
    logs = [workdir / f"consumer-{i}.log" for i in range(processes)]
    started = time.monotonic()
    running = [subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    codes = [process.wait() for process in running]
    elapsed = time.monotonic() - started
    if any(codes):
        raise SystemExit(f"consumer exited with {codes}; see {workdir}")
    summaries = [line for log in logs for line in log.read_text().splitlines() if line.startswith("finished:")]
    # "finished: processed=… rate=… msg/s over 7.3s": the consumer's time from start of consuming to its end.
    own = [float(re.search(r"over ([0-9.]+)s", line).group(1)) for line in summaries]
    return Drain(elapsed, max(own), summaries)


def remaining(connection_string: str) -> int:
    client = QueueClient.from_connection_string(connection_string, QUEUE_NAME)
    return client.get_queue_properties().approximate_message_count


def sink_length(connection_string: str) -> int:
    client = QueueClient.from_connection_string(connection_string, SINK_QUEUE_NAME)
    return client.get_queue_properties().approximate_message_count


def forwarding_drain(count: int, workdir: Path, checkout: Path) -> Drain:
    """One process; every probe sends one follow-up (through the outbox, or the checkout's own way)."""
    with FreshAzurite(count, {"forwardTo": "expiration"}) as azurite:
        drain = consumer_drain(azurite.connection_string, 1, workdir, checkout)
        left, forwarded = remaining(azurite.connection_string), sink_length(azurite.connection_string)
    if left or forwarded != count:
        raise SystemExit(f"FAIL: {left} probes left and {forwarded} of {count} follow-ups sent ({checkout})")
    return drain


def measure_round(count: int, workdir: Path, baseline: Path | None) -> dict[str, Drain]:
    """One raw drain, drains by 1 and by 2 no-op consumer processes and by one forwarding process (and
    the baseline checkout's forwarding process), each on a fresh Azurite."""
    with FreshAzurite(count) as azurite:
        raw_seconds = raw_sdk_drain(azurite.connection_string, count)
    results = {"raw": Drain(raw_seconds, raw_seconds)}
    for processes in (1, 2):
        with FreshAzurite(count) as azurite:
            results[f"{processes}p"] = consumer_drain(azurite.connection_string, processes, workdir)
            left = remaining(azurite.connection_string)
        if left:
            raise SystemExit(f"FAIL: {left} messages were not consumed by {processes} process(es)")
    results["forward"] = forwarding_drain(count, workdir, ROOT)
    if baseline is not None:
        results["baseline forward"] = forwarding_drain(count, workdir, baseline)
    return results


def main(count: int, rounds: int, baseline: Path | None = None) -> int:
    """Interleaved rounds; each consumer is compared with the raw drain of its own round (the machine is
    shared, so a neighbour's load moves both alike), and the per-round ratios are summarised by their median.
    """
    workdir = Path(tempfile.mkdtemp(prefix="consumer-bench-"))
    for checkout in (ROOT, baseline) if baseline else (ROOT,):
        migrate(checkout, workdir)
    ratios: dict[str, list[float]] = {"1p wall": [], "1p drain": [], "2p wall": [], "2p drain": []}
    follow_up_ms: dict[str, list[float]] = {"forward": [], "baseline forward": []}
    raw_rates = []
    for round_number in range(1, rounds + 1):
        results = measure_round(count, workdir, baseline)
        raw = count / results["raw"].drain_seconds
        raw_rates.append(raw)
        line = [f"round {round_number}: raw SDK {raw:.0f} msg/s"]
        for variant in ("1p", "2p"):
            drain = results[variant]
            wall_rate, drain_rate = count / drain.wall_seconds, count / drain.drain_seconds
            ratios[f"{variant} wall"].append(wall_rate / raw)
            ratios[f"{variant} drain"].append(drain_rate / raw)
            line.append(
                f"{variant[0]} process(es) {wall_rate:.0f} msg/s wall ({wall_rate / raw:.2f} x), "
                f"{drain_rate:.0f} msg/s drain ({drain_rate / raw:.2f} x)"
            )
        no_op_ms = 1000 * results["1p"].drain_seconds / count
        for leg in follow_up_ms:
            if leg in results:
                per_message = 1000 * results[leg].drain_seconds / count
                follow_up_ms[leg].append(per_message - no_op_ms)
                line.append(f"{leg} {count / results[leg].drain_seconds:.0f} msg/s drain ({per_message:.2f} ms/msg)")
        print("; ".join(line))
    median = {name: statistics.median(values) for name, values in ratios.items()}
    raw_median = statistics.median(raw_rates)
    print(f"N={count}, {rounds} rounds; raw SDK (1 thread, pages of 32, delete each): median {raw_median:.0f} msg/s")
    print("wall = process start to exit, Django start-up included; drain = the consumer's own time consuming")
    for variant, label in (("1p", "1 consumer process"), ("2p", "2 consumer processes")):
        print(
            f"consume_queue --once, {label}, no-op probe handler: median {median[variant + ' wall']:.2f} x raw "
            f"(wall), {median[variant + ' drain']:.2f} x raw (drain)"
        )
    for leg, values in follow_up_ms.items():
        if values:
            print(f"{leg}: a follow-up adds a median {statistics.median(values):.2f} ms per message to the no-op drain")
    ratio = median["1p drain"]
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"one process drains at {ratio:.2f} x the raw SDK rate: {verdict} the {TARGET_RATIO} x target")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    arguments = sys.argv[1:]
    baseline_checkout = None
    if "--baseline" in arguments:
        at = arguments.index("--baseline")
        baseline_checkout = Path(arguments[at + 1]).resolve()
        del arguments[at : at + 2]
    sys.exit(
        main(
            int(arguments[0]) if arguments else 1000,
            int(arguments[1]) if len(arguments) > 1 else 3,
            baseline_checkout,
        )
    )
