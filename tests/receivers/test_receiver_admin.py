"""The receiver admin: every process and receiver with status and age; start and stop per version."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.utils import timezone

from receivers.models import ReceiverCommand

pytestmark = pytest.mark.django_db

STATUS_PAGE = "/admin/receivers/receivercommand/status/"


def test_the_status_page_lists_each_process_and_receiver_with_its_age(admin_client, redis_client):
    document = {
        "consumerInstanceId": "event-dispatcher-1234",
        "queriedAt": (timezone.now() - timedelta(seconds=120)).isoformat(),
        "version": "STAGING",
        "receiverStatuses": [
            {"name": "storageQueueRefundMessageSource", "status": "UP"},
            {"name": "storageQueueDeadLetterMessageSource", "status": "DOWN"},
        ],
    }
    redis_client.set("receiver-status:event-dispatcher-1234", json.dumps(document))

    page = admin_client.get(STATUS_PAGE).content.decode()

    assert page.count("event-dispatcher-1234") == 2
    assert "storageQueueRefundMessageSource</td><td>UP" in page
    assert "storageQueueDeadLetterMessageSource</td><td>DOWN" in page
    ages = re.findall(r"<td>event-dispatcher-1234</td><td>STAGING</td><td>(\d+)</td>", page)
    assert len(ages) == 2
    assert all(120 <= int(age) < 180 for age in ages), ages


def test_the_changelist_links_to_the_status_page(admin_client):
    assert STATUS_PAGE in admin_client.get("/admin/receivers/receivercommand/").content.decode()


@pytest.mark.parametrize("command", ["START", "STOP"])
def test_a_button_sends_the_command_to_its_version_and_records_the_operator(admin_client, redis_client, command):
    response = admin_client.post(STATUS_PAGE, {"command": command, "version": "PROD"}, follow=True)

    assert f"Sent {command} to PROD." in response.content.decode()
    [(_, fields)] = redis_client.xrange("event-dispatcher-commands")
    assert (fields["receiverCommand"], fields["version"]) == (command, "PROD")
    record = ReceiverCommand.objects.get()
    assert (record.command, record.deployment_version, record.sent_by, record.origin) == (
        command,
        "PROD",
        "admin",
        "admin",
    )
    assert "admin" in admin_client.get("/admin/receivers/receivercommand/").content.decode()


def test_an_operator_without_the_permission_cannot_send_commands(client, redis_client):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_receivercommand"))
    client.force_login(viewer)

    response = client.post(STATUS_PAGE, {"command": "STOP", "version": "PROD"}, follow=True)

    assert "You may not send receiver commands." in response.content.decode()
    assert redis_client.exists("event-dispatcher-commands") == 0
    assert ReceiverCommand.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_command_redis_took_but_the_database_cannot_record_is_reported_as_sent_but_unrecorded(
    admin_client, redis_client
):
    table = ReceiverCommand._meta.db_table
    with connection.schema_editor() as editor:
        editor.alter_db_table(ReceiverCommand, table, "receivers_receivercommand_away")
    try:
        response = admin_client.post(STATUS_PAGE, {"command": "STOP", "version": "PROD"}, follow=True)
    finally:
        with connection.schema_editor() as editor:
            editor.alter_db_table(ReceiverCommand, "receivers_receivercommand_away", table)

    assert response.status_code == 200
    assert "Sent STOP, but it could not be recorded" in response.content.decode()
    [(_, fields)] = redis_client.xrange("event-dispatcher-commands")
    assert fields["receiverCommand"] == "STOP"
