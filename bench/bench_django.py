"""What the in-process benchmarks share: a PostgreSQL database of their own, and Django set up on it."""

from __future__ import annotations

import os
from urllib.parse import urlparse


def recreate_database(url: str, create: bool = True) -> None:
    """Drop the benchmark's PostgreSQL database at `url` and, unless told not to, create it empty."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


def service_environment(database_url: str, allowed_hosts: str) -> dict[str, str]:
    """The service's variables for a benchmark: production settings (debug off) on its own database."""
    return {
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SECURITY_API_KEYS_PRIMARY": "bench-api-key",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": allowed_hosts,
        "LOG_LEVEL": "WARNING",
    }


def setup_django(environment: dict[str, str]) -> None:
    """Django on `environment` (the service's variables), with every migration applied."""
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def sending_sms_notifications(count: int, services: int = 1) -> list:
    """`count` SMS notifications in `sending` (as after a provider accepted them), spread round-robin over
    `services` new services, bulk-inserted: what the callback benchmarks send receipts for."""
    from django.utils import timezone

    from notifications.models import SMS, Notification, Service, Template

    templates = []
    for index in range(services):
        service = Service.objects.create(name=f"bench {index}", email_from="bench@notifications.localhost")
        templates.append(Template.objects.create(service=service, name="t", template_type=SMS, content="Hello"))
    now = timezone.now()
    notifications = [
        Notification(
            service_id=templates[index % services].service_id,
            template=templates[index % services],
            template_version=1,
            notification_type=SMS,
            to="07700900000",
            body="Hello",
            status="sending",
            created_at=now,
            sent_at=now,
        )
        for index in range(count)
    ]
    return Notification.objects.bulk_create(notifications, batch_size=1000)
