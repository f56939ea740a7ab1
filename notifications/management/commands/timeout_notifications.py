"""Time out notifications stuck in created, sending or pending (SENDING_NOTIFICATIONS_TIMEOUT_PERIOD)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from notifications import dao


class Command(BaseCommand):
    help = "Move created/sending/pending notifications older than the timeout period to temporary-failure."

    def handle(self, *args, **options):
        period = settings.DISPATCHER.SENDING_NOTIFICATIONS_TIMEOUT_PERIOD
        count = dao.timeout_notifications(period)
        self.stdout.write(f"{count} notifications timed out (older than {period} s)")
