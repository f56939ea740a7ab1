"""`manage.py run_local`: the whole service on one machine, in the foreground, for development.

Steps: start Azurite (and Redis, if nothing answers on the configured address), migrate, create the
queues, then run gunicorn and every queue consumer until Ctrl-C, which stops every process it started.
"""

import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from dispatcher_site import local_servers
from dispatcher_site.config import BASE_DIR


def queue_endpoint_port(connection_string: str) -> tuple[str, int]:
    fields = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    endpoint = urlparse(fields.get("QueueEndpoint", ""))
    return endpoint.hostname or "", endpoint.port or 0


class Command(BaseCommand):
    help = "Run Azurite, Redis if needed, migrations, the web server and all consumers until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data-dir", default=str(BASE_DIR / "var" / "azurite"), help="Where Azurite keeps its queues."
        )

    def handle(self, *args, data_dir: str, **options):
        self.data_dir = Path(data_dir)
        self.processes: dict[str, subprocess.Popen] = {}
        signal.signal(signal.SIGTERM, lambda *_: self._raise_interrupt())
        try:
            self._start_azurite()
            self._start_redis_if_needed()
            call_command("migrate", interactive=False, verbosity=1)
            call_command("create_queues")
            self._start_web()
            self._start_consumers()
            self._wait_for_first_exit()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for name, process in reversed(self.processes.items()):
                local_servers.stop(process, timeout=30)
                self.stdout.write(f"stopped {name}")

    @staticmethod
    def _raise_interrupt():
        raise KeyboardInterrupt

    def _start_azurite(self) -> None:
        host, port = queue_endpoint_port(settings.DISPATCHER.QUEUE_TRANSIENT_CONNECTION_STRING)
        if local_servers.port_answers(host, port):
            self.stdout.write(f"queue service already answers on {host}:{port}")
            return
        if host not in ("127.0.0.1", "localhost"):
            raise CommandError(f"the queue service at {host}:{port} does not answer")
        self.processes["azurite"] = local_servers.start_azurite(port, location=self.data_dir)
        self.stdout.write(f"started Azurite on 127.0.0.1:{port} (data in {self.data_dir})")

    def _start_redis_if_needed(self) -> None:
        host, port = settings.DISPATCHER.REDIS_HOST, settings.DISPATCHER.REDIS_PORT
        if local_servers.port_answers(host, port):
            self.stdout.write(f"Redis already answers on {host}:{port}")
            return
        if host not in ("127.0.0.1", "localhost"):
            raise CommandError(f"Redis at {host}:{port} does not answer")
        self.processes["redis"] = local_servers.start_redis(port)
        self.stdout.write(f"started Redis on 127.0.0.1:{port}")

    def _start_web(self) -> None:
        self.processes["web"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"],
            cwd=BASE_DIR,
        )
        self.stdout.write(f"web server on http://{settings.DISPATCHER.GUNICORN_BIND}/admin/")

    def _start_consumers(self) -> None:
        if "consume_queue" not in get_commands():
            return
        self.processes["consumers"] = subprocess.Popen(
            [sys.executable, "manage.py", "consume_queue", "--all"], cwd=BASE_DIR
        )

    def _wait_for_first_exit(self) -> None:
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise CommandError(f"{name} exited with code {process.returncode}")
            time.sleep(0.5)
