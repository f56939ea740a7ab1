"""Firetext delivery receipts against a trivial JSON view, on one gunicorn server backed by PostgreSQL.

    .venv/bin/python bench/callbacks.py [--notifications 12000] [--clients 16]

It (re)creates the PostgreSQL database BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_notifications), migrates it, loads N `sending`
notifications, starts gunicorn on a free port with the project's configuration, and drives, with the
same bounded pool of keep-alive clients, N requests to the trivial JSON view `/health/liveness`, N
receipts (each for a distinct notification) and the same N receipts again (duplicates, answered
"ignored"), interleaved in rounds so all see the same machine (all warmed up first: every server
thread's database connection is open before measuring). It prints, as medians over the rounds,
requests/s and p50/p99 latency of each and the ratio receipts/trivial (target >= 0.35); the
statements one receipt and one duplicate send (counted in this process, on the same code path); how
long receipts waited for and wrote their statistics row (the `dao.count_in_statistics` timings, from
a second server with statsd on sending to a listener here, over a further 1,000 receipts; in the
measured phases the server sends its metrics to a port nobody reads, so the listener's CPU is not
charged to the server); then the CPU each request cost in gunicorn, in PostgreSQL backends and in
this load generator (the machine is shared, so CPU per request is the steadier figure), the load
average, and checks every receipt was applied exactly once (duplicates included).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_django import (  # noqa: E402
    recreate_database,
    sending_sms_notifications,
    service_environment,
    setup_django,
)

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_notifications")
SERVER_ENVIRONMENT = service_environment(DATABASE_URL, "127.0.0.1,localhost")
ROUNDS = 6
WARM_UP = 200
TARGET_RATIO = 0.35
TARGET_RECEIPT_P99_MS = 60
WAIT_PHASE = 1000


def load_notifications(count: int, services: int = 1) -> list[str]:
    from notifications.models import DailyStatistics

    notifications = sending_sms_notifications(count, services)
    templates = {n.template_id: n.template for n in notifications}.values()
    slots = int(os.environ.get("STATISTICS_COUNTER_SLOTS", "8"))
    for template in templates:
        requested = sum(1 for n in notifications if n.template_id == template.id)
        day = notifications[0].statistics_day
        DailyStatistics.objects.bulk_create(
            DailyStatistics(
                service_id=template.service_id, day=day, slot=slot, sms_requested=requested if not slot else 0
            )
            for slot in range(slots)
        )
    return [str(n.id) for n in notifications]


def statements_per_receipt(notification_id: str) -> dict[str, list[str]]:
    """The statements one new receipt and the same receipt again send, on this process's connection."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client, statements = Client(SERVER_NAME="127.0.0.1"), {}
    for name in ("receipt", "duplicate"):
        with CaptureQueriesContext(connection) as queries:
            client.post("/notifications/sms/firetext", {"status": "0", "reference": notification_id})
        statements[name] = [query["sql"].split()[0] for query in queries]
    return statements


class StatsdTimings:
    """A UDP statsd listener keeping the timings of one stat (what gunicorn's workers send)."""

    def __init__(self, suffix: str):
        import socket

        self.suffix = suffix
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.values: list[float] = []
        self.recording = False
        threading.Thread(target=self.listen, daemon=True).start()

    def listen(self) -> None:
        while True:
            for line in self.socket.recv(65535).decode().splitlines():
                name, _, rest = line.partition(":")
                if self.recording and name.endswith(self.suffix) and rest.endswith("|ms"):
                    self.values.append(float(rest.split("|")[0]))


def start_gunicorn(port: int, statsd_port: int) -> subprocess.Popen:
    from dispatcher_site.local_servers import wait_for_port

    statsd = {"STATSD_ENABLED": "true", "STATSD_HOST": "127.0.0.1", "STATSD_PORT": str(statsd_port)}
    environment = {**os.environ, **SERVER_ENVIRONMENT, **statsd, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"],
        cwd=ROOT,
        env=environment,
    )
    wait_for_port("127.0.0.1", port, process)
    return process


class Client:
    """One keep-alive connection per worker thread of the load generator."""

    local = threading.local()

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None) -> float:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}")
        return elapsed


def process_cpu_seconds() -> dict[int, float]:
    """User + system CPU of every process so far, by pid (Linux /proc), with its parent pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    processes = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        processes[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return processes


def database_backends() -> set[int]:
    """PostgreSQL backends serving the benchmark's database (their title names it)."""
    name = urlparse(DATABASE_URL).path.lstrip("/")
    pids = set()
    for entry in os.listdir("/proc"):
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if title.startswith("postgres: ") and f" {name} " in title:
            pids.add(int(entry))
    return pids


class CpuMeter:
    """CPU spent by gunicorn (master and workers), PostgreSQL backends and this process during a phase."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def snapshot(self) -> dict[str, float]:
        processes, backends = process_cpu_seconds(), database_backends()
        return {
            "gunicorn": sum(cpu for pid, (ppid, cpu) in processes.items() if self.server_pid in (pid, ppid)),
            "backends": {pid: processes[pid][1] for pid in backends if pid in processes},
            "client": time.process_time(),
        }

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        postgres = sum(cpu - before["backends"].get(pid, 0.0) for pid, cpu in after["backends"].items())
        return {
            "gunicorn": after["gunicorn"] - before["gunicorn"],
            "postgres": postgres,
            "client": after["client"] - before["client"],
        }


def drive(pool: ThreadPoolExecutor, calls: list) -> tuple[float, list[float]]:
    """Wall time and the latency of each call, with at most pool-size calls in flight."""
    started = time.perf_counter()
    latencies = list(pool.map(lambda call: call(), calls))
    return time.perf_counter() - started, latencies


def describe(name: str, rates: list[float], latencies: list[float]) -> float:
    rate = statistics.median(rates)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<28} {rate:8.0f} req/s (rounds {min(rates):.0f}-{max(rates):.0f})"
        f"   p50 {cuts[49] * 1000:6.2f} ms   p99 {cuts[98] * 1000:6.2f} ms"
    )
    return rate


def measure_statistics_waits(ids: list[str], clients: int) -> list[float]:
    """A second server whose statsd timings are read here: the receipts' `dao.count_in_statistics` (ms)."""
    from dispatcher_site.local_servers import free_port, stop

    timings = StatsdTimings(".dao.count_in_statistics")
    port = free_port()
    server = start_gunicorn(port, timings.port)
    client = Client(port)
    body = "status=0&mobile=447700900000&reference="
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            timings.recording = True
            drive(
                pool,
                [lambda i=i: client.request("POST", "/notifications/sms/firetext", body + i, headers) for i in ids],
            )
    finally:
        stop(server)
    time.sleep(0.5)  # the last datagrams
    return timings.values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Issue 15's conditions: 16 connections; rounds of about 2,000 requests, so a p99 rests on 20 of them.
    parser.add_argument("--notifications", type=int, default=12000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--services", type=int, default=1, help="Spread the notifications over this many services.")
    arguments = parser.parse_args()

    from dispatcher_site.local_servers import free_port, stop

    recreate_database(DATABASE_URL)
    setup_django(SERVER_ENVIRONMENT)
    ids = load_notifications(arguments.notifications + WARM_UP, arguments.services)
    warm_up_ids, ids = ids[:WARM_UP], ids[WARM_UP:]
    statements = statements_per_receipt(ids.pop())
    wait_ids, ids = ids[-WAIT_PHASE:], ids[:-WAIT_PHASE]
    port = free_port()
    # statsd on, as deployed, but sent to a port nobody reads: a listener here would share the two
    # cores with the server, which a real statsd agent does not.
    server = start_gunicorn(port, statsd_port=free_port())
    client = Client(port)
    meter = CpuMeter(server.pid)
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def trivial():
        return client.request("GET", "/health/liveness")

    def receipt(notification_id):
        body = urlencode({"status": "0", "reference": notification_id, "mobile": "447700900000"})
        return lambda: client.request("POST", "/notifications/sms/firetext", body, form_headers)

    names = ("trivial", "firetext", "duplicate")
    rates = {name: [] for name in names}
    latencies = {name: [] for name in names}
    cpu = {name: {"gunicorn": 0.0, "postgres": 0.0, "client": 0.0} for name in names}
    load_before = os.getloadavg()
    try:
        with ThreadPoolExecutor(max_workers=arguments.clients) as pool:
            # Warm up workers, keep-alive connections, every server thread's database connection and caches.
            drive(pool, [trivial] * WARM_UP)
            drive(pool, [receipt(i) for i in warm_up_ids])
            per_round = len(ids) // ROUNDS
            for round_index in range(ROUNDS):
                batch = ids[round_index * per_round : (round_index + 1) * per_round]
                phases = (
                    ("trivial", [trivial] * len(batch)),
                    ("firetext", [receipt(i) for i in batch]),
                    # Providers retry: the same receipts again must be answered "ignored" and change nothing.
                    ("duplicate", [receipt(i) for i in batch]),
                )
                for name, calls in phases:
                    before = meter.snapshot()
                    wall, round_latencies = drive(pool, calls)
                    for part, seconds in meter.spent(before, meter.snapshot()).items():
                        cpu[name][part] += seconds
                    rates[name].append(len(calls) / wall)
                    latencies[name] += round_latencies
    finally:
        stop(server)
    statistics_waits = measure_statistics_waits(wait_ids, arguments.clients)

    print(f"gunicorn (config defaults: 2 workers x 4 threads) on PostgreSQL, {arguments.clients} clients, ", end="")
    print(f"{ROUNDS} rounds of {per_round} requests per phase, medians over rounds")
    trivial_rate = describe("GET /health/liveness", rates["trivial"], latencies["trivial"])
    firetext_rate = describe("POST firetext receipts", rates["firetext"], latencies["firetext"])
    describe("POST duplicate receipts", rates["duplicate"], latencies["duplicate"])
    for name, label in (("trivial", "liveness"), ("firetext", "receipt"), ("duplicate", "duplicate")):
        count = len(latencies[name])
        parts = "   ".join(f"{part} {seconds / count * 1000:.2f} ms" for part, seconds in cpu[name].items())
        print(f"CPU per {label:<9} {parts}")
    for name, kinds in statements.items():
        print(f"statements per {name}: {len(kinds)} ({', '.join(kinds)})")
    waits = statistics.quantiles(statistics_waits, n=100)
    print(
        f"statistics increment (waiting for its row and writing it; {len(statistics_waits)} receipts): "
        f"p50 {waits[49]:.2f} ms, p99 {waits[98]:.2f} ms, max {max(statistics_waits):.2f} ms"
    )
    cpu_ratio = cpu["trivial"]["gunicorn"] / cpu["firetext"]["gunicorn"]
    print(f"gunicorn CPU ratio liveness/receipt: {cpu_ratio:.2f}")
    ratio = firetext_rate / trivial_rate
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio receipts/trivial: {ratio:.2f} (target >= {TARGET_RATIO}: {verdict})")
    receipt_p99 = statistics.quantiles(latencies["firetext"], n=100)[98] * 1000
    verdict = "met" if receipt_p99 <= TARGET_RECEIPT_P99_MS else "NOT met"
    print(f"receipt p99 {receipt_p99:.2f} ms (target <= {TARGET_RECEIPT_P99_MS} ms: {verdict})")
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min; {os.cpu_count()} CPUs)")

    from django.db import connections

    from notifications import statistics as notification_statistics
    from notifications.models import Notification

    sent = len(latencies["firetext"]) + len(warm_up_ids) + len(wait_ids) + 1  # and statements_per_receipt's
    applied = Notification.objects.filter(status="delivered").count()
    differences = notification_statistics.differences()
    connections.close_all()
    recreate_database(DATABASE_URL, create=False)
    print(f"receipts applied: {applied} of {sent} (warm-up included); statistics differences: {len(differences)}")
    return 0 if applied == sent and not differences else 1


if __name__ == "__main__":
    sys.exit(main())
