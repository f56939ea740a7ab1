"""`manage.py console_gauges [--interval S] [--once]`: send the dashboard's figures as statsd gauges.

Steps, every interval until SIGTERM/SIGINT: read the dashboard (`console.dashboard`), send each figure
as a gauge (`<prefix>.<env>.<namespace>.console.…`), write one line. Alerting then needs neither the
admin nor the JSON endpoint; one such process per deployment is enough (gauges keep the last value).
"""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from console.dashboard import read_dashboard
from dispatcher_site.metrics import statsd_client


class Command(BaseCommand):
    help = "Send the dashboard's figures as statsd gauges, once or every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between readings")
        parser.add_argument("--once", action="store_true", help="send one reading, then exit")

    def handle(self, *args, **options):
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive")
        self.stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: self.stopped.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopped.set())
        while True:
            self.send_once()
            if options["once"] or self.stopped.wait(timeout=options["interval"]):
                return

    def send_once(self) -> None:
        dashboard = read_dashboard()
        gauges = dashboard.gauges()
        stats = statsd_client()
        for name, value in gauges.items():
            stats.gauge(name, value)
        problems = f"; cannot read {', '.join(dashboard.errors)}" if dashboard.errors else ""
        self.stdout.write(f"sent {len(gauges)} gauges read at {dashboard.read_at.isoformat()}{problems}")
