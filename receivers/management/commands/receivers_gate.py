"""`manage.py receivers_gate stop|start --version V [--wait] [--timeout S]`: the deploy gate.

Run as a Kubernetes Job from the application image by `deploy/k8s/deploy.sh` (or by hand). Steps:
1. Publish STOP or START for the deployment version, then record it (`receivers.control`).
2. With --wait, read the version's status keys every --poll-interval seconds and judge them
   (`receivers.gate`); print what it is waiting for whenever that changes.
3. Exit 0 once the receivers have obeyed; exit 1 naming what was still waited for when --timeout
   seconds have passed. A Redis error while waiting is printed and retried until the timeout.
"""

from __future__ import annotations

import logging
import socket
import time

import redis
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from receivers.control import VERSIONS, publish_command, record_command
from receivers.gate import blockers, read_instances
from receivers.models import ReceiverCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deploy gate: STOP or START the receivers of one deployment version and wait until they obey."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # `--version` names the deployment version here, as in `manage.py receivers`; it replaces Django's own.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["stop", "start"])
        parser.add_argument("--version", choices=VERSIONS, required=True, help="deployment version")
        parser.add_argument("--wait", action="store_true", help="wait until every receiver has obeyed")
        parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (default 300)")
        parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between status reads")
        parser.add_argument(
            "--min-instances", type=int, default=1, help="START: live instances that must report UP (default 1)"
        )

    def handle(self, *args, **options):
        command, version = options["action"].upper(), options["version"]
        if options["timeout"] <= 0 or options["poll_interval"] <= 0 or options["min_instances"] < 0:
            raise CommandError("--timeout and --poll-interval must be positive, --min-instances at least 0")
        try:
            command_id = str(publish_command(command, version))
        except redis.exceptions.RedisError as error:
            raise CommandError(f"cannot publish {command} for {version}: {error}") from None
        self.record(command_id, command, version)
        self.stdout.write(f"sent {command} to {version} (command {command_id})")
        if options["wait"]:
            self.wait(command, command_id, version, options)

    def record(self, command_id: str, command: str, version: str) -> None:
        # In a Job the host name is the pod's name; its user id need not have a name.
        sent_by = f"deploy gate ({socket.gethostname()})"
        try:
            record_command(command_id, command, version, sent_by=sent_by, origin=ReceiverCommand.Origin.CLI)
        except DatabaseError as error:
            logger.warning("receiver command %s for %s is in force but cannot be recorded: %s", command, version, error)

    def wait(self, command: str, command_id: str, version: str, options: dict) -> None:
        deadline = time.monotonic() + options["timeout"]
        shown: list[str] | None = None
        while True:
            try:
                waiting = blockers(command, command_id, read_instances(version), options["min_instances"])
            except redis.exceptions.RedisError as error:
                waiting = [f"Redis cannot be read: {error}"]
            if not waiting:
                self.stdout.write(f"{command} obeyed by every receiver of {version}")
                return
            if waiting != shown:
                self.stdout.write("waiting for: " + "; ".join(waiting))
                shown = waiting
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"{command} for {version} not obeyed within {options['timeout']:g} s: " + "; ".join(waiting)
                )
            time.sleep(options["poll_interval"])
