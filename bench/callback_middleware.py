"""What each middleware costs a Firetext receipt, measured on the real view and database.

    .venv/bin/python bench/callback_middleware.py [--receipts 400] [--rounds 5]

It (re)creates the PostgreSQL database BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/bench_middleware), loads `sending` notifications, and posts Firetext
receipts in process through Django's request handler (no network, no server): once with the project's
whole middleware stack, then once per middleware with that one left out, interleaved in rounds. Each
variant is timed by the CPU this process spends per receipt (the machine is shared: CPU time is the
steadier figure), with the garbage collector paused while it runs; a middleware's cost is the median
of (whole stack - stack without it) over the rounds. The receipt path itself (view, status update,
statistics) is what remains with none of them.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_django import (  # noqa: E402
    recreate_database,
    sending_sms_notifications,
    service_environment,
    setup_django,
)

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_middleware")
ENVIRONMENT = {**service_environment(DATABASE_URL, "testserver,127.0.0.1"), "STATSD_ENABLED": "false"}


def sending_notifications(count: int) -> list[str]:
    return [str(row.id) for row in sending_sms_notifications(count)]


# Middleware that cannot run without another: leaving that one out leaves them out too.
DEPENDENTS = {
    "django.contrib.sessions.middleware.SessionMiddleware": (
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ),
    "django.contrib.auth.middleware.AuthenticationMiddleware": (
        "django.contrib.messages.middleware.MessageMiddleware",
    ),
}


def left_out_with(name: str) -> set[str]:
    return {name, *DEPENDENTS.get(name, ())}


def cpu_per_receipt(middleware: list[str], ids: list[str]) -> float:
    """CPU seconds per receipt through `middleware`, for these notification ids (each receipt new)."""
    from django.test import Client, override_settings

    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        gc.collect()
        gc.disable()  # a collection landing in one variant and not another would outweigh a middleware
        try:
            started = time.process_time()
            for notification_id in ids:
                response = client.post("/notifications/sms/firetext", {"status": "0", "reference": notification_id})
                if response.status_code != 200:
                    raise SystemExit(f"receipt answered {response.status_code}: {response.content[:200]!r}")
            return (time.process_time() - started) / len(ids)
        finally:
            gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=400, help="receipts per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    recreate_database(DATABASE_URL)
    setup_django(ENVIRONMENT)
    from django.conf import settings

    stack = list(settings.MIDDLEWARE)
    variants = {"whole stack": stack, "no middleware": []} | {
        name: [entry for entry in stack if entry not in left_out_with(name)] for name in stack
    }
    ids = iter(sending_notifications(arguments.receipts * len(variants) * (arguments.rounds + 1)))
    cpu_per_receipt(stack, [next(ids) for _ in range(arguments.receipts)])  # warm up imports and caches
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _round in range(arguments.rounds):
        for name, middleware in variants.items():
            seconds[name].append(cpu_per_receipt(middleware, [next(ids) for _ in range(arguments.receipts)]))
    whole = seconds["whole stack"]
    print(f"{arguments.receipts} receipts per variant, {arguments.rounds} rounds, medians; CPU of this process")
    print(f"  whole stack: {statistics.median(whole) * 1e6:7.0f} us per receipt")
    print(f"  no middleware at all: {statistics.median(seconds['no middleware']) * 1e6:7.0f} us per receipt")
    for name in stack:
        cost = statistics.median(w - without for w, without in zip(whole, seconds[name], strict=True))
        also = f" (with {', '.join(sorted(left_out_with(name) - {name}))})" if DEPENDENTS.get(name) else ""
        print(f"  {name:<55} {cost * 1e6:7.0f} us{also}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
