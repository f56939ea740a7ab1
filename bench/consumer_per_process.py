"""Messages per second one `consume_queue` process handles when its handler waits on a slow service.

The KEDA thresholds in `deploy/k8s` are derived from this figure (README, "Deploying to Kubernetes").
Real handlers spend most of a message waiting on HTTP services (Nodo, NPG, the PDV...), which the probe
handler imitates with `sleepSeconds`; each probe also records a receipt in the database, as a handler
writes its events. For each simulated wait, a fresh in-memory Azurite gets N probe messages and one
`consume_queue probe --once` process (CONSUMER_WORKER_THREADS threads, default 8) drains them; the rate is
the consumer's own drain time (its "finished: ... over Xs" line), Django start-up excluded. A wait of 0
gives the ceiling of one process on this machine (the queue service, the database and the CPU).
Expected: about threads / wait while that is below the ceiling.

Usage: DATABASE_URL=postgres://... .venv/bin/python bench/consumer_per_process.py [N [WAIT ...]]
(default N=400, waits 0 0.1 0.25; without DATABASE_URL a temporary SQLite file is used)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from azure.storage.queue import QueueClient  # noqa: E402

from dispatcher_site import local_servers  # noqa: E402

QUEUE_NAME = "bench-per-process-queue"
TRACEPARENT = "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01"


def probe_text(wait: float) -> str:
    event = {
        "_class": "it.pagopa.ecommerce.eventdispatcher.diagnostics.ProbeEvent",
        "id": str(uuid.uuid4()),
        "transactionId": uuid.uuid4().hex,
        "creationDate": "2026-12-02T10:00:00.000000+01:00[Europe/Rome]",
        "data": {"record": True, "sleepSeconds": wait},
        "eventCode": "PROBE_EVENT",
    }
    return json.dumps({"event": event, "tracingInfo": {"traceparent": TRACEPARENT, "tracestate": None}})


def environment(connection_string: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        "DATABASE_URL": database_url,
        "QUEUE_TRANSIENT_CONNECTION_STRING": connection_string,
        "QUEUE_DEADLETTER_CONNECTION_STRING": connection_string,
        "DIAGNOSTIC_PROBE_QUEUE_NAME": QUEUE_NAME,
        "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY": f"bench-commands-{uuid.uuid4()}",
    }


def drain_rate(count: int, wait: float, database_url: str) -> float:
    """Messages per second of one consumer process draining `count` probes that each wait `wait` seconds."""
    port = local_servers.free_port()
    azurite = local_servers.start_azurite(port)
    try:
        connection_string = local_servers.azurite_connection_string(port)
        client = QueueClient.from_connection_string(connection_string, QUEUE_NAME)
        client.create_queue()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client.send_message, [probe_text(wait) for _ in range(count)]))
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "consume_queue", "probe", "--once"],
            env=environment(connection_string, database_url),
            capture_output=True,
            text=True,
            check=True,
        )
        left = client.get_queue_properties().approximate_message_count
    finally:
        local_servers.stop(azurite)
    if left:
        raise SystemExit(f"FAIL: {left} messages were not consumed")
    summary = re.search(r"finished: processed=(\d+) .* over ([0-9.]+)s", result.stdout)
    processed, seconds = int(summary.group(1)), float(summary.group(2))
    if processed != count:
        raise SystemExit(f"FAIL: processed {processed} of {count}: {result.stdout}")
    return processed / seconds


def main(count: int, waits: list[float]) -> int:
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env={**os.environ, "DJANGO_DEBUG": "true", "DATABASE_URL": database_url},
        check=True,
    )
    threads = int(os.environ.get("CONSUMER_WORKER_THREADS", "8"))
    engine = database_url.split(":", 1)[0]
    for wait in waits:
        rate = drain_rate(count, wait, database_url)
        bound = f", threads / wait = {threads / wait:.0f} msg/s" if wait else ""
        print(f"{engine}, {threads} threads, handler waits {wait:g} s: {rate:.0f} msg/s{bound}")
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.exit(main(int(arguments[0]) if arguments else 400, [float(w) for w in arguments[1:]] or [0.0, 0.1, 0.25]))
