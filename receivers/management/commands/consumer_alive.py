"""`manage.py consumer_alive [--file PATH] [--max-age S]`: the liveness check of a consumer pod.

Consumers serve no HTTP, so their start-up and liveness probes run this command inside the pod. It reads
the heartbeat file `consume_queue` keeps (`receivers.heartbeat`) and exits 0 when the file was written
within --max-age seconds and no receiver is UNKNOWN; otherwise it prints why and exits 1. Under
`consume_queue --processes N` every child's file (`<file>.0` … `<file>.N-1`) must be alive. It reads no
Redis, database or queue: a consumer cut off from them keeps working and must not be restarted for it.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from receivers.heartbeat import alive_problems, heartbeat_files, read_heartbeat


class Command(BaseCommand):
    help = "Exit 0 when the consumer process of this pod is alive (fresh heartbeat, no receiver UNKNOWN)."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=None, help="heartbeat file (default: CONSUMER_HEARTBEAT_FILE)")
        parser.add_argument("--max-age", type=float, default=30.0, help="seconds a heartbeat stays good (default 30)")

    def handle(self, *args, **options):
        path = options["file"] or settings.DISPATCHER.CONSUMER_HEARTBEAT_FILE
        if not path:
            raise CommandError("no heartbeat file: pass --file or set CONSUMER_HEARTBEAT_FILE")
        problems, alive = [], []
        for file in heartbeat_files(Path(path)):
            document = read_heartbeat(file)
            found = alive_problems(document, now=time.time(), max_age=options["max_age"])
            problems += [f"{file}: {problem}" for problem in found]
            if not found:
                alive.append(f"{document.get('consumerInstanceId')} ({document.get('version')})")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write("alive: " + ", ".join(alive))
