"""The receiver status page: every process and receiver with its state; start and stop per version,
PROD only after a confirmation that names what it acts on."""

import json
import re
import signal
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from receivers.models import ReceiverCommand
from tests.receivers.conftest import send_probe, wait_until

pytestmark = pytest.mark.django_db

STATUS_PAGE = "/admin/receivers/receivercommand/status/"


def status_document(instance, version="PROD", seconds_ago=0, statuses=(), in_flight=None, shutting_down=False):
    return {
        "consumerInstanceId": instance,
        "queriedAt": (timezone.now() - timedelta(seconds=seconds_ago)).isoformat(),
        "version": version,
        "receiverStatuses": [{"name": name, "status": status} for name, status in statuses],
        "inFlightByReceiver": in_flight or {},
        "shuttingDown": shutting_down,
    }


def publish(redis_client, document, live=True):
    text = json.dumps(document)
    if live:
        redis_client.set(f"receiver-status:{document['consumerInstanceId']}", text, ex=60)
    redis_client.hset("receiver-last-seen", document["consumerInstanceId"], text)


def states(page: str) -> dict[tuple[str, str], str]:
    """(process, queue) → state, as the page's rows say."""
    rows = re.findall(r'data-process="([^"]+)" data-queue="([^"]*)" data-state="([^"]+)"', page)
    return {(process, queue): state for process, queue, state in rows}


REFUND = "storageQueueRefundMessageSource"
DEAD_LETTER = "storageQueueDeadLetterMessageSource"
PROBE = "storageQueueProbeMessageSource"


def test_each_receiver_state_is_told_apart(admin_client, redis_client):
    publish(redis_client, status_document("p-running", statuses=[(REFUND, "UP"), (DEAD_LETTER, "UNKNOWN")]))
    publish(redis_client, status_document("p-stopped", statuses=[(REFUND, "DOWN")]))
    publish(redis_client, status_document("p-draining", statuses=[(REFUND, "DOWN")], in_flight={REFUND: 3}))
    publish(redis_client, status_document("p-exited", statuses=[(REFUND, "DOWN")], shutting_down=True))
    publish(redis_client, status_document("p-gone", seconds_ago=600, statuses=[(REFUND, "UP")]), live=False)

    page = admin_client.get(STATUS_PAGE).content.decode()

    assert states(page) == {
        ("p-running", "refund"): "running",
        ("p-running", "dead-letter"): "not responding",
        ("p-stopped", "refund"): "stopped by command",
        ("p-draining", "refund"): "draining",
        ("p-exited", "refund"): "exited",
        ("p-gone", "refund"): "gone",
    }
    draining_row = page[page.index('data-process="p-draining"') :].split("</tr>")[0]
    assert "<td>3</td>" in draining_row
    gone_row = page[page.index('data-process="p-gone"') :].split("</tr>")[0]
    assert "10 min ago" in gone_row
    assert "last seen 20" in gone_row  # the last-seen time, with its date


def test_the_page_filters_by_version_and_by_queue(admin_client, redis_client):
    publish(redis_client, status_document("p-prod", statuses=[(REFUND, "UP"), (PROBE, "UP")]))
    publish(redis_client, status_document("p-staging", version="STAGING", statuses=[(REFUND, "UP")]))

    by_version = states(admin_client.get(STATUS_PAGE, {"version": "STAGING"}).content.decode())
    by_queue = states(admin_client.get(STATUS_PAGE, {"queue": "probe"}).content.decode())

    assert set(by_version) == {("p-staging", "refund")}
    assert set(by_queue) == {("p-prod", "probe")}


def test_processes_that_have_not_reported_for_a_day_are_forgotten(admin_client, redis_client):
    publish(redis_client, status_document("p-old", seconds_ago=2 * 86400, statuses=[(REFUND, "UP")]), live=False)

    page = admin_client.get(STATUS_PAGE).content.decode()

    assert "p-old" not in page
    assert redis_client.hexists("receiver-last-seen", "p-old") == 0


def test_the_page_reads_the_same_number_of_queries_however_many_processes(admin_client, redis_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(STATUS_PAGE).status_code == 200
        return len(captured)

    publish(redis_client, status_document("p-1", statuses=[(REFUND, "UP")]))
    few = queries()
    for index in range(2, 30):
        publish(redis_client, status_document(f"p-{index}", statuses=[(REFUND, "UP"), (PROBE, "DOWN")]))

    assert queries() == few


def test_the_page_is_linked_from_the_index_and_the_sidebar(admin_client):
    index = admin_client.get("/admin/").content.decode()
    changelist = admin_client.get("/admin/receivers/deadletterevent/").content.decode()

    assert STATUS_PAGE in index
    sidebar = changelist[changelist.index('id="nav-sidebar"') :]
    assert STATUS_PAGE in sidebar


@pytest.mark.parametrize("command", ["START", "STOP"])
def test_prod_asks_for_confirmation_naming_what_it_acts_on(admin_client, redis_client, command):
    publish(redis_client, status_document("p-prod", statuses=[(REFUND, "UP"), (PROBE, "DOWN")]))

    asked = admin_client.post(STATUS_PAGE, {"command": command, "version": "PROD"}).content.decode()

    assert redis_client.exists("event-dispatcher-commands") == 0
    assert ReceiverCommand.objects.count() == 0
    assert f"{command} PROD" in asked
    assert "p-prod" in asked
    assert "refund (running)" in asked
    assert f"Yes, {command.lower()} PROD" in asked

    response = admin_client.post(STATUS_PAGE, {"command": command, "version": "PROD", "confirm": "yes"}, follow=True)

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


def test_staging_is_sent_at_once(admin_client, redis_client):
    response = admin_client.post(STATUS_PAGE, {"command": "STOP", "version": "STAGING"}, follow=True)

    assert "Sent STOP to STAGING." in response.content.decode()
    [(_, fields)] = redis_client.xrange("event-dispatcher-commands")
    assert (fields["receiverCommand"], fields["version"]) == ("STOP", "STAGING")


def test_the_changelist_links_to_the_status_page(admin_client):
    assert STATUS_PAGE in admin_client.get("/admin/receivers/receivercommand/").content.decode()


def test_an_operator_without_the_permission_cannot_send_commands(client, redis_client):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_receivercommand"))
    client.force_login(viewer)

    response = client.post(STATUS_PAGE, {"command": "STOP", "version": "PROD", "confirm": "yes"}, follow=True)

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
        response = admin_client.post(STATUS_PAGE, {"command": "STOP", "version": "PROD", "confirm": "yes"})
    finally:
        with connection.schema_editor() as editor:
            editor.alter_db_table(ReceiverCommand, "receivers_receivercommand_away", table)

    assert response.status_code == 302
    assert "Sent STOP, but it could not be recorded" in admin_client.get(STATUS_PAGE).content.decode()
    [(_, fields)] = redis_client.xrange("event-dispatcher-commands")
    assert fields["receiverCommand"] == "STOP"


@pytest.mark.django_db(transaction=True)
def test_a_real_consumer_is_seen_running_draining_stopped_exited_and_gone(start_consumer, admin_client):
    def probe_state(process_page: str) -> str | None:
        return next((state for (_, queue), state in states(process_page).items() if queue == "probe"), None)

    def page() -> str:
        return admin_client.get(STATUS_PAGE, {"queue": "probe"}).content.decode()

    consumer = start_consumer("probe", RECEIVER_STATUS_TTL_SECONDS="6")
    wait_until(lambda: probe_state(page()) == "running", "the probe receiver running")
    probe = send_probe({"sleepSeconds": 4})
    consumer.wait_for_output(f"probe {probe['id']} received")  # the handler holds the message

    admin_client.post(STATUS_PAGE, {"command": "STOP", "version": "PROD", "confirm": "yes"})

    wait_until(lambda: probe_state(page()) == "draining", "the probe receiver draining its message")
    assert re.search(r'data-state="draining">.*?<td>1</td>', page(), re.S)
    wait_until(lambda: probe_state(page()) == "stopped by command", "the probe receiver stopped")
    consumer.signal(signal.SIGTERM)
    assert consumer.wait() == 0
    assert probe_state(page()) == "exited"
    wait_until(lambda: probe_state(page()) == "gone", "the exited process gone once its key expired", timeout=20)
