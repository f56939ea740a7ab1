"""Schemathesis fuzzes every operation of the OpenAPI document against a live gunicorn on the test
database (SQLite or PostgreSQL, whichever this run uses), once with valid credentials and once
without, bounded in examples (tests/api/schemathesis.toml) and time. It must find no 5xx, no answer
outside the document and no invalid request accepted; afterwards the database is consistent:
`rebuild_statistics --check` is clean and no transaction is half written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from dispatcher_site.local_servers import stop
from notifications.models import ApiKey, Notification, Service, Template
from tests.gunicorn_support import start_gunicorn
from tests.transactions.factories import C, event_json
from transactions.events import parse_event
from transactions.models import Transaction, TransactionEvent
from transactions.reduction import reduce_events
from transactions.store import store_incoming_event

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("st")
RUN_TIMEOUT_SECONDS = 300
CALLBACK_TOKEN = "fuzz-callback-token"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses_notifications"


@pytest.fixture
def notify_service():
    """A service with a key and a template of each type (no placeholders, so any personalisation will
    do), for the fuzzer to reach sending."""
    service = Service.objects.create(name="Fuzzed", email_from="fuzzed", sms_sender="FUZZ")
    _, key = ApiKey.issue(service, "fuzz")
    sms = Template.objects.create(service=service, name="sms", template_type="sms", content="Hi")
    email = Template.objects.create(service=service, name="email", template_type="email", subject="S", content="B")
    return {
        "FUZZ_NOTIFY_SERVICE_ID": str(service.id),
        "FUZZ_NOTIFY_SECRET": key[-36:],
        "FUZZ_SMS_TEMPLATE": str(sms.id),
        "FUZZ_EMAIL_TEMPLATE": str(email.id),
    }


@pytest.fixture
def server_url(subprocess_env, queues_created, tmp_path):
    """gunicorn (2 workers) with every callback credential configured, so 'without keys' means refused."""
    environment = {
        **subprocess_env,
        "FIRETEXT_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "MMG_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "SES_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "SES_CALLBACK_ALLOWED_TOPIC_ARNS": TOPIC,
    }
    with (tmp_path / "gunicorn.log").open("w") as log:
        process, url = start_gunicorn(environment, workers=2, log=log)
        try:
            yield url
        finally:
            stop(process)


def run_schemathesis(url: str, credentials: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FUZZ_")},
        **credentials,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
    }
    command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--no-color"]
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )


def half_written_transactions() -> list[str]:
    """Transactions whose events and view disagree: events without a view (or the reverse), a gap in the
    sequence, or a view whose status is not what its events reduce to."""
    problems = []
    views = {view.transaction_id: view for view in Transaction.objects.all()}
    streams: dict[str, list[TransactionEvent]] = {}
    for record in TransactionEvent.objects.order_by("transaction_id", "sequence"):
        streams.setdefault(record.transaction_id, []).append(record)
    for transaction_id in sorted(set(views) | set(streams)):
        records = streams.get(transaction_id, [])
        if transaction_id not in views or not records:
            view = "a view" if transaction_id in views else "no view"
            problems.append(f"{transaction_id}: {len(records)} events and {view}")
            continue
        if [r.sequence for r in records] != list(range(1, len(records) + 1)):
            problems.append(f"{transaction_id}: sequence {[r.sequence for r in records]}")
        state = reduce_events(record.to_event() for record in records)
        if views[transaction_id].status != state.status.value:
            problems.append(f"{transaction_id}: view {views[transaction_id].status}, events {state.status.value}")
    return problems


@pytest.mark.parametrize("credentials", ["valid-keys", "no-keys"])
def test_schemathesis_finds_no_fault_and_leaves_the_database_consistent(
    server_url, notify_service, credentials, capsys
):
    keys = {"FUZZ_OPERATOR_KEY": "test-primary-api-key", "FUZZ_CALLBACK_TOKEN": CALLBACK_TOKEN, **notify_service}

    result = run_schemathesis(server_url, keys if credentials == "valid-keys" else {})

    stored = f"{TransactionEvent.objects.count()} events, {Notification.objects.count()} notifications stored"
    with capsys.disabled():
        print(f"\nschemathesis ({credentials}): {result.stdout.strip().splitlines()[-1]} ({stored})")
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    call_command("rebuild_statistics", "--check")
    assert half_written_transactions() == []


def test_the_consistency_check_sees_a_half_written_transaction():
    activation = parse_event(event_json(C.TRANSACTION_ACTIVATED_EVENT))
    store_incoming_event(activation)
    assert half_written_transactions() == []

    TransactionEvent.objects.all().delete()

    assert half_written_transactions() == [f"{activation.transaction_id}: 0 events and a view"]
