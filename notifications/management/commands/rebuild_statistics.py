"""Recompute the daily statistics from the notification rows, or with --check only report differences."""

from django.core.management.base import BaseCommand, CommandError

from notifications import statistics


class Command(BaseCommand):
    help = "Recompute notification statistics from the notification rows; --check reports and changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Report differences, change nothing; exit 1 if any.")

    def handle(self, *args, check: bool = False, **options):
        found = statistics.differences() if check else statistics.rebuild()
        for difference in found:
            self.stdout.write(str(difference))
        if check and found:
            raise CommandError(f"{len(found)} statistics counters differ from the notification rows")
        verb = "differ" if check else "corrected"
        self.stdout.write(f"{len(found)} counters {verb}")
