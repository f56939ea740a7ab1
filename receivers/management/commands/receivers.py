"""`manage.py receivers start|stop|status [--version PROD|STAGING]`: the receiver control API, from a shell."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from receivers.control import VERSIONS, read_statuses, send_command
from receivers.models import ReceiverCommand


class Command(BaseCommand):
    help = "Start or stop the receivers of a deployment version (default: all), or list their statuses."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # `--version` names the deployment version here, as in the API; it replaces Django's own.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument("--version", choices=VERSIONS, default=None, help="deployment version (default: all)")

    def handle(self, *args, **options):
        version = options["version"]
        if options["action"] == "status":
            self.write_statuses(version)
            return
        command = options["action"].upper()
        sent_by = f"{getpass.getuser()} (shell)"
        record = send_command(command, version, sent_by=sent_by, origin=ReceiverCommand.Origin.CLI)
        self.stdout.write(f"sent {command} to {version or 'every version'} (command {record.id})")

    def write_statuses(self, version):
        documents = read_statuses(version)
        if not documents:
            raise CommandError(f"no consumer process reports{' for ' + version if version else ''}")
        for document in documents:
            self.stdout.write(
                f"{document['consumerInstanceId']} {document['version']} reported {document['queriedAt']}"
            )
            for receiver in document["receiverStatuses"]:
                self.stdout.write(f"  {receiver['name']:56} {receiver['status']}")
