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
