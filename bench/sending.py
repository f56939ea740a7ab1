"""How fast one `consume_queue send-sms` process sends SMS through a provider that answers in 50 ms, against
the ideal (worker threads / 50 ms) measured in the same run (spec notifications.md Part A §7).

    .venv/bin/python bench/sending.py [--notifications 1500] [--rounds 3] [--worker-threads 8] [--latency-ms 50]

Each round:
1. a fresh in-memory Azurite; the database BENCH_SENDING_DATABASE_URL (default
   postgres://postgres@127.0.0.1:5432/bench_sending; a sqlite:/// URL works too) recreated and migrated;
2. a Firetext stand-in on loopback (a threading HTTP/1.1 server) that answers every request after the
   latency, timing how long it actually took;
3. N SMS notifications created the way the v2 API creates them (each committed with its delivery
   message through the outbox and relayed at once), in a separate process, not measured;
4. the client-side baseline: the worker threads post N requests straight to the stand-in with one
   requests session each (no queue, no database): the best a sender on this machine can do;
5. `manage.py consume_queue send-sms --once --worker-threads T` drains the queue; its rate is N over
   its own drain time (the "finished:" summary; Django start-up excluded) and over wall-clock.
The ideal is T / latency: nominal (50 ms) and with the stand-in's measured mean service time. Also
printed: the consumer's CPU per SMS and how busy the whole machine was while it ran (on 2 cores shared
with Azurite, PostgreSQL and this stand-in, that is what caps it). Checks: the stand-in got exactly N
requests, every notification is `sending`, nothing was dead-lettered.
Target: the consumer sends at least 0.8 x the nominal ideal (median of the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dispatcher_site import local_servers  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_SENDING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_sending")
TARGET_RATIO = 0.8
QUEUE_NAME = "bench-send-sms-queue"
CREATE_NOTIFICATIONS = """
import sys
import django
django.setup()
from notifications import delivery
from notifications.models import SMS, ApiKey, Service, Template
service = Service.objects.create(name="Bench", email_from="bench@notifications.localhost", sms_sender="BENCH")
template = Template.objects.create(service=service, name="sms", template_type=SMS, content="Code ((code))")
key, _ = ApiKey.issue(service, "bench")
for number in range(int(sys.argv[1])):
    delivery.create_notification(template, "07700900123", {"code": str(number)}, api_key=key)
"""
CHECK_NOTIFICATIONS = """
import json
import django
django.setup()
from django.db.models import Count
from notifications.models import Notification
print(json.dumps(dict(Notification.objects.values_list("status").annotate(Count("id")))))
"""


class Provider(ThreadingHTTPServer):
    """A Firetext stand-in answering each request after `latency` seconds, keeping connections alive."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, latency: float):
        super().__init__(("127.0.0.1", 0), ProviderHandler)
        self.latency = latency
        self.lock = threading.Lock()
        self.service_times: list[float] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/firetext"

    def reset(self) -> None:
        with self.lock:
            self.service_times = []


class ProviderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle's algorithm on, the body would wait for
    # the client's delayed ACK (some 40 ms) and the stand-in would be slower than its latency.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        started = time.monotonic()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.server.latency)
        body = b'{"code": 0, "description": "SMS successfully queued"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with self.server.lock:
            self.server.service_times.append(time.monotonic() - started)

    def log_message(self, *args) -> None:
        pass


def environment(connection_string: str, provider: Provider, threads: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dispatcher_site.settings",
        # Production settings: debug mode would record every query.
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SECURITY_API_KEYS_PRIMARY": "bench-api-key",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "STATSD_ENABLED": "false",
        "DATABASE_URL": DATABASE_URL,
        "QUEUE_TRANSIENT_CONNECTION_STRING": connection_string,
        "QUEUE_DEADLETTER_CONNECTION_STRING": connection_string,
        "NOTIFICATIONS_SEND_SMS_QUEUE_NAME": QUEUE_NAME,
        "FIRETEXT_URL": provider.url,
        "FIRETEXT_API_KEY": "bench-key",
        "CONSUMER_WORKER_THREADS": str(threads),
        # A stream of its own, so no command left in Redis by someone else stops the benchmark.
        "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY": f"bench-commands-{uuid.uuid4()}",
    }


def recreate_database() -> None:
    url = urlparse(DATABASE_URL)
    if url.scheme.startswith("sqlite"):
        Path(url.path).unlink(missing_ok=True)
        return
    import psycopg

    name = url.path.lstrip("/")
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *arguments: str, log: Path | None = None) -> subprocess.CompletedProcess:
    output = log.open("w") if log else subprocess.PIPE
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        env=env,
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(arguments)} exited with {result.returncode} (see {log})")
    return result


def python(env: dict[str, str], script: str, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script, *arguments], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(result.stderr)
    return result.stdout


def baseline_rate(provider: Provider, count: int, threads: int) -> float:
    """Requests per second T threads get from the stand-in with nothing else to do."""
    sessions = threading.local()
    form = {"apiKey": "bench-key", "from": "BENCH", "to": "447700900123", "message": "Code 1", "reference": "x"}

    def post(_: int) -> None:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        sessions.session.post(provider.url, data=form, timeout=10).raise_for_status()

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(count)))
    return count / (time.monotonic() - started)


def measure_round(count: int, threads: int, provider: Provider, workdir: Path) -> dict[str, float]:
    port = local_servers.free_port()
    azurite = local_servers.start_azurite(port)
    try:
        env = environment(local_servers.azurite_connection_string(port), provider, threads)
        recreate_database()
        manage(env, "migrate", "-v", "0")
        manage(env, "create_queues")
        python(env, CREATE_NOTIFICATIONS, str(count))
        provider.reset()
        baseline = baseline_rate(provider, count, threads)
        provider.reset()
        log = workdir / "consumer.log"
        started, children, machine = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN), busy_jiffies()
        manage(env, "consume_queue", "send-sms", "--once", "--worker-threads", str(threads), log=log)
        wall = time.monotonic() - started
        after, machine_after = resource.getrusage(resource.RUSAGE_CHILDREN), busy_jiffies()
        consumer_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        busy = (machine_after[0] - machine[0]) / max(machine_after[1] - machine[1], 1)
        statuses = json.loads(python(env, CHECK_NOTIFICATIONS))
    finally:
        local_servers.stop(azurite)
    summary = next(line for line in log.read_text().splitlines() if line.startswith("finished:"))
    drain = float(re.search(r"over ([0-9.]+)s", summary).group(1))
    requests_seen = len(provider.service_times)
    if requests_seen != count or statuses != {"sending": count} or "dead-lettered=0" not in summary:
        raise SystemExit(f"FAIL: {requests_seen} requests for {count} SMS, statuses {statuses}; {summary}")
    return {
        "drain rate": count / drain,
        "wall rate": count / wall,
        "baseline": baseline,
        "service time": statistics.mean(provider.service_times),
        "cpu per sms": consumer_cpu / count,
        "machine busy": busy,
    }


def busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    arguments = parser.parse_args()
    count, threads, latency = arguments.notifications, arguments.worker_threads, arguments.latency_ms / 1000
    provider = Provider(latency)
    workdir = Path(tempfile.mkdtemp(prefix="sending-bench-"))
    nominal_ideal = threads / latency
    ratios, measured_ratios, baseline_ratios = [], [], []
    for round_number in range(1, arguments.rounds + 1):
        result = measure_round(count, threads, provider, workdir)
        measured_ideal = threads / result["service time"]
        ratios.append(result["drain rate"] / nominal_ideal)
        measured_ratios.append(result["drain rate"] / measured_ideal)
        baseline_ratios.append(result["drain rate"] / result["baseline"])
        print(
            f"round {round_number}: consumer {result['drain rate']:.1f} SMS/s drain, {result['wall rate']:.1f} SMS/s "
            f"wall; ideal {nominal_ideal:.0f} nominal, {measured_ideal:.1f} with the measured "
            f"{1000 * result['service time']:.1f} ms; baseline {result['baseline']:.1f} req/s; "
            f"{ratios[-1]:.2f} x ideal, {baseline_ratios[-1]:.2f} x baseline; consumer CPU "
            f"{1000 * result['cpu per sms']:.1f} ms per SMS (start-up included), machine "
            f"{100 * result['machine busy']:.0f}% busy while it ran",
            flush=True,
        )
    provider.shutdown()
    load = os.getloadavg()
    ratio = statistics.median(ratios)
    print(f"N={count}, {threads} worker threads, provider latency {arguments.latency_ms:.0f} ms, {DATABASE_URL}")
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (the machine is shared)")
    print(
        f"median: {ratio:.2f} x the nominal ideal ({nominal_ideal:.0f} SMS/s), "
        f"{statistics.median(measured_ratios):.2f} x the ideal with the measured latency, "
        f"{statistics.median(baseline_ratios):.2f} x the client-only baseline"
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"one consume_queue send-sms process {verdict} the {TARGET_RATIO} x ideal target")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
