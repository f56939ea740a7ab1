from django.core.management.base import BaseCommand

from receivers.queues import QUEUES, create_all_queues


class Command(BaseCommand):
    help = "Create every queue this service reads or writes (existing queues are left alone)."

    def handle(self, *args, **options):
        created = create_all_queues()
        for definition in QUEUES.values():
            state = "created" if definition.name in created else "exists"
            self.stdout.write(f"{definition.key:32} {definition.name} ({state})")
