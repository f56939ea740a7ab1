"""`manage.py receivers start|stop|status`: the control API from a shell."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from receivers.models import ReceiverCommand

pytestmark = pytest.mark.django_db


def run(*arguments: str) -> str:
    output = StringIO()
    call_command("receivers", *arguments, stdout=output)
    return output.getvalue()


def test_stop_with_a_version_publishes_and_records_the_command(redis_client):
    output = run("stop", "--version", "STAGING")

    [(_, fields)] = redis_client.xrange("event-dispatcher-commands")
    assert (fields["receiverCommand"], fields["version"]) == ("STOP", "STAGING")
    record = ReceiverCommand.objects.get()
    assert (record.command, record.deployment_version, record.origin) == ("STOP", "STAGING", "cli")
    assert record.sent_by.endswith("(shell)")
    assert "sent STOP to STAGING" in output


def test_start_without_a_version_targets_every_version(redis_client):
    run("start")

    [(_, fields)] = redis_client.xrange("event-dispatcher-commands")
    assert fields["receiverCommand"] == "START"
    assert "version" not in fields


def test_status_lists_processes_and_receivers(redis_client):
    document = {
        "consumerInstanceId": "event-dispatcher-x",
        "queriedAt": "2026-11-27T10:00:00+00:00",
        "version": "PROD",
        "receiverStatuses": [{"name": "storageQueueRefundMessageSource", "status": "DOWN"}],
    }
    redis_client.set("receiver-status:event-dispatcher-x", json.dumps(document))

    output = run("status")

    assert "event-dispatcher-x PROD" in output
    assert "storageQueueRefundMessageSource" in output
    assert "DOWN" in output


def test_status_without_processes_fails_with_a_message(redis_client):
    with pytest.raises(CommandError, match="no consumer process reports for STAGING"):
        run("status", "--version", "STAGING")
