"""How fast `consume_queue` drains a queue, against the raw SDK measured in the same run.

Each measurement starts its own fresh in-memory Azurite (its cost grows with queue depth and its
garbage collection can stall after many deletes), fills the probe queue with N probe QueueEvents,
then drains it:
1. raw SDK: one thread, pages of 32 (`messages_per_page=32`), delete each message;
2. `manage.py consume_queue probe --once` running the probe's no-op handler (one process);
3. the same with two consumer processes at once.
Consumer times are wall-clock from process start to exit, Django start-up included. The three are
measured in interleaved rounds (default 3) and compared by their medians, because the machine is
shared and a neighbour's load would otherwise decide the ratio.
Target: one consumer process reaches at least 0.9 x the raw SDK rate.

Usage: .venv/bin/python bench/consumer_throughput.py [N [ROUNDS]]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.storage.queue import QueueClient  # noqa: E402

from dispatcher_site import local_servers  # noqa: E402

QUEUE_NAME = "bench-probe-queue"
TRACEPARENT = "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"
TARGET_RATIO = 0.9


def probe_text() -> str:
    event = {
        "_class": "it.pagopa.ecommerce.eventdispatcher.diagnostics.ProbeEvent",
        "id": str(uuid.uuid4()),
        "transactionId": uuid.uuid4().hex,
        "creationDate": "2026-11-27T10:00:00.000000+01:00[Europe/Rome]",
        "data": {},
        "eventCode": "PROBE_EVENT",
    }
    return json.dumps({"event": event, "tracingInfo": {"traceparent": TRACEPARENT, "tracestate": None}})


class FreshAzurite:
    """A new in-memory Azurite with the probe queue holding `count` messages."""

    def __init__(self, count: int):
        self.count = count

    def __enter__(self) -> FreshAzurite:
        port = local_servers.free_port()
        self.process = local_servers.start_azurite(port)
        self.connection_string = local_servers.azurite_connection_string(port)
        client = QueueClient.from_connection_string(self.connection_string, QUEUE_NAME)
        client.create_queue()
        texts = [probe_text() for _ in range(self.count)]
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


def consumer_drain(connection_string: str, processes: int, workdir: Path) -> tuple[float, list[str]]:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "QUEUE_TRANSIENT_CONNECTION_STRING": connection_string,
        "QUEUE_DEADLETTER_CONNECTION_STRING": connection_string,
        "DIAGNOSTIC_PROBE_QUEUE_NAME": QUEUE_NAME,
        # A stream of its own, so no command left in Redis by someone else stops the benchmark.
        "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY": f"bench-commands-{uuid.uuid4()}",
    }
    command = [sys.executable, str(ROOT / "manage.py"), "consume_queue", "probe", "--once"]
    logs = [workdir / f"consumer-{i}.log" for i in range(processes)]
    started = time.monotonic()
    running = [subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT) for log in logs]
    codes = [process.wait() for process in running]
    elapsed = time.monotonic() - started
    if any(codes):
        raise SystemExit(f"consumer exited with {codes}; see {workdir}")
    summaries = [line for log in logs for line in log.read_text().splitlines() if line.startswith("finished:")]
    return elapsed, summaries


def remaining(connection_string: str) -> int:
    client = QueueClient.from_connection_string(connection_string, QUEUE_NAME)
    return client.get_queue_properties().approximate_message_count


def measure_round(count: int, workdir: Path) -> dict[str, tuple[float, list[str]]]:
    """One raw drain and one drain by 1 and by 2 consumer processes, each on a fresh Azurite."""
    results = {}
    with FreshAzurite(count) as azurite:
        results["raw"] = (raw_sdk_drain(azurite.connection_string, count), [])
    for processes in (1, 2):
        with FreshAzurite(count) as azurite:
            results[f"{processes}p"] = consumer_drain(azurite.connection_string, processes, workdir)
            left = remaining(azurite.connection_string)
        if left:
            raise SystemExit(f"FAIL: {left} messages were not consumed by {processes} process(es)")
    return results


def main(count: int, rounds: int) -> int:
    """Interleaved rounds (the machine is shared, so neighbours' load hits every variant alike); medians."""
    workdir = Path(tempfile.mkdtemp(prefix="consumer-bench-"))
    rates: dict[str, list[float]] = {"raw": [], "1p": [], "2p": []}
    for round_number in range(1, rounds + 1):
        results = measure_round(count, workdir)
        for variant, (seconds, _summaries) in results.items():
            rates[variant].append(count / seconds)
        print(
            f"round {round_number}: raw {rates['raw'][-1]:.0f} msg/s, 1 process {rates['1p'][-1]:.0f} msg/s, "
            f"2 processes {rates['2p'][-1]:.0f} msg/s"
        )
        for summary in results["1p"][1] + results["2p"][1]:
            print(f"    {summary}")
    raw = statistics.median(rates["raw"])
    print(f"N={count}, {rounds} rounds, medians; consumer times include process start-up")
    print(f"raw SDK (1 thread, pages of 32, delete each): {raw:.0f} msg/s")
    for variant, label in (("1p", "1 consumer process"), ("2p", "2 consumer processes")):
        rate = statistics.median(rates[variant])
        print(f"consume_queue --once, {label}, no-op probe handler: {rate:.0f} msg/s = {rate / raw:.2f} x raw")
    ratio = statistics.median(rates["1p"]) / raw
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"one process: {ratio:.2f} x raw SDK rate, {verdict} the {TARGET_RATIO} x target")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, int(sys.argv[2]) if len(sys.argv) > 2 else 3))
