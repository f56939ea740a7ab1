"""`manage.py check_config`: print the effective configuration, secrets masked.

Settings are loaded before any command runs, so an invalid environment never reaches this code:
manage.py prints the problems and exits 2. Reaching `handle` means the configuration is valid.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatcher_site.config import VARIABLES


class Command(BaseCommand):
    help = "Print the effective configuration with secrets masked; exit non-zero when it is invalid."

    def add_arguments(self, parser):
        parser.add_argument("--markdown", action="store_true", help="Print the configuration reference table.")

    def handle(self, *args, markdown: bool = False, **options):
        if markdown:
            self._print_reference()
            return
        section = None
        for variable, shown in settings.DISPATCHER.described():
            if variable.section != section:
                section = variable.section
                self.stdout.write(self.style.MIGRATE_HEADING(f"\n{section}"))
            self.stdout.write(f"{variable.name}={shown}")
        self.stdout.write(self.style.SUCCESS("\nConfiguration is valid."))

    def _print_reference(self) -> None:
        section = None
        for variable in VARIABLES:
            if variable.section != section:
                section = variable.section
                self.stdout.write(f"\n### {section}\n\n| variable | type | default | meaning |\n|---|---|---|---|")
            default = "(secret)" if variable.secret and variable.default else repr(variable.default)
            if variable.kind == "db_url":
                default = "`sqlite:///var/db.sqlite3`"
            elif variable.name.startswith("QUEUE_") and "CONNECTION_STRING" in variable.name:
                default = "Azurite on 127.0.0.1:10001"
            else:
                default = f"`{default}`"
            self.stdout.write(f"| `{variable.name}` | {variable.kind} | {default} | {variable.help} |")
