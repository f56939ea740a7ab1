"""Seed the expiration benchmark: N ACTIVATED transactions whose payment token has expired.

Run with DATABASE_URL set (the consumer under test uses the same database):

    DATABASE_URL=postgres://… .venv/bin/python bench/expiration_seed.py N MESSAGES_FILE

It migrates, empties the event store, the view, the outbox and the handled marks, stores N ACTIVATED
events through the store (each a new transaction, as transactions-service would have written them),
and writes the N expiration-queue messages (one QueueEvent per line) that the reference's producer
sends when the token expires. Handling each one appends EXPIRED (view EXPIRED_NOT_AUTHORIZED).
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_site.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")

import django  # noqa: E402
import environ  # noqa: E402
import psycopg  # noqa: E402


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet."""
    if not url.startswith("postgres"):
        return
    config = environ.Env.db_url_config(url)
    server = {key: config[key.upper()] for key in ("host", "port", "user", "password") if config.get(key.upper())}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{config["NAME"]}"')


ensure_postgres_database(os.environ.get("DATABASE_URL", ""))
django.setup()

from django.core.management import call_command  # noqa: E402

from receivers.handlers import serialize_queue_event  # noqa: E402
from receivers.models import HandledMessage, OutboxMessage  # noqa: E402
from tests.transactions.factories import C, event_json  # noqa: E402
from transactions import events as ev  # noqa: E402
from transactions.models import Transaction, TransactionEvent  # noqa: E402
from transactions.store import store_incoming_event  # noqa: E402

TRACING = {"traceparent": "00-5868efa082297543570dafff7d53c70b-56f1d9262e6ee6cf-01", "tracestate": None}


def activation(created: datetime) -> ev.TransactionEvent:
    """An ACTIVATED event of a new transaction, created an hour ago (its 900 s token has expired)."""
    creation_date = f"{created.isoformat()}[{ev.EVENT_ZONE.key}]"
    document = event_json(C.TRANSACTION_ACTIVATED_EVENT, transaction_id=uuid.uuid4().hex, creation_date=creation_date)
    return ev.parse_event(document)


def seed(count: int, messages_file: Path) -> None:
    call_command("migrate", verbosity=0)
    for model in (TransactionEvent, Transaction, OutboxMessage, HandledMessage):
        model.objects.all().delete()
    created = datetime.now(ev.EVENT_ZONE) - timedelta(hours=1)
    lines = []
    for _ in range(count):
        event = activation(created)
        store_incoming_event(event)
        lines.append(serialize_queue_event(event.to_json_dict(), TRACING))
    messages_file.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    seed(int(sys.argv[1]), Path(sys.argv[2]))
