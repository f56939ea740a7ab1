"""The dead-letter admin: find a dead letter, read its original message, requeue it or resolve it."""

import json
import re

import pytest
from django.conf import settings
from django.contrib.admin import site
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.messages.storage.fallback import FallbackStorage
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from receivers import handlers
from receivers.admin import DeadLetterEventAdmin
from receivers.handlers import DeadLetterCategory, HandlerError
from receivers.models import DeadLetterEvent, ProbeReceipt
from receivers.queues import queue_client, send_text
from tests.receivers.conftest import consume_once, hidden_dead_letters, queue_length, queue_texts, send_probe

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/receivers/deadletterevent/"


def dead_letter_a_probe(probe_handler, category=DeadLetterCategory.PROCESSING_ERROR) -> dict:
    """A recorded probe that failed once, now stored as a dead letter; return the probe event."""
    working = handlers.HANDLERS["probe"]
    probe_handler(lambda message, outbox: (_ for _ in ()).throw(HandlerError(category, "downstream was down")))
    event = send_probe({"record": True})
    consume_once("probe")
    consume_once("dead-letter")
    handlers.HANDLERS["probe"] = working
    return event


def test_requeue_sends_the_original_back_to_its_queue_where_it_is_handled(queues, probe_handler, admin_client):
    event = dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()

    response = admin_client.post(
        CHANGELIST, {"action": "requeue", "_selected_action": [dead_letter.pk], "confirm": "yes"}, follow=True
    )

    assert "Requeued 1 dead letter(s)." in response.content.decode()
    [requeued] = queue_texts("probe")
    assert requeued == dead_letter.original_message
    dead_letter.refresh_from_db()
    assert dead_letter.state == DeadLetterEvent.State.REQUEUED
    assert dead_letter.requeued_by == "admin"
    assert dead_letter.requeued_at is not None
    assert LogEntry.objects.get(object_id=dead_letter.pk).change_message == "Requeued to probe"
    consume_once("probe")
    assert ProbeReceipt.objects.filter(event_id=event["id"]).exists()
    assert queue_length("probe") == 0


def test_a_dead_letter_is_requeued_only_once(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    pk = DeadLetterEvent.objects.get().pk
    admin_client.post(CHANGELIST, {"action": "requeue", "_selected_action": [pk], "confirm": "yes"})

    response = admin_client.post(
        CHANGELIST, {"action": "requeue", "_selected_action": [pk], "confirm": "yes"}, follow=True
    )

    assert "Skipped 1" in response.content.decode()
    assert queue_length("probe") == 1


def run_requeue_action(dead_letters: list[DeadLetterEvent], user: User) -> None:
    """The requeue action on rows loaded earlier, as two submits that both read the rows as NEW do."""
    request = RequestFactory().post(CHANGELIST)
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    DeadLetterEventAdmin(DeadLetterEvent, site).requeue_dead_letters(request, dead_letters)


def test_a_double_submit_requeues_once(queues, probe_handler, admin_user):
    dead_letter_a_probe(probe_handler)
    loaded_by_first, loaded_by_second = list(DeadLetterEvent.objects.all()), list(DeadLetterEvent.objects.all())

    run_requeue_action(loaded_by_first, admin_user)
    run_requeue_action(loaded_by_second, admin_user)

    assert queue_length("probe") == 1
    assert DeadLetterEvent.objects.get().state == DeadLetterEvent.State.REQUEUED
    assert LogEntry.objects.count() == 1


def test_a_requeue_whose_send_fails_leaves_the_dead_letter_new(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    pk = DeadLetterEvent.objects.get().pk
    missing_queue = settings.DISPATCHER.replace(DIAGNOSTIC_PROBE_QUEUE_NAME="no-such-probe-queue")

    with override_settings(DISPATCHER=missing_queue):
        response = admin_client.post(
            CHANGELIST, {"action": "requeue", "_selected_action": [pk], "confirm": "yes"}, follow=True
        )

    assert "Queue error, stopped requeueing" in response.content.decode()
    dead_letter = DeadLetterEvent.objects.get()
    assert (dead_letter.state, dead_letter.requeued_by, dead_letter.requeued_at) == ("NEW", "", None)


def make_visible_again(dead_letter: DeadLetterEvent) -> None:
    """As if its 7 days had passed: the message shows again, and the row's pop receipt is stale."""
    queue_client("dead-letter").update_message(
        dead_letter.queue_message_id, pop_receipt=dead_letter.pop_receipt, visibility_timeout=0
    )


def resolve(admin_client, pk) -> None:
    data = {"action": "resolve", "_selected_action": [pk], "apply": "1", "note": "done"}
    assert "Resolved 1" in admin_client.post(CHANGELIST, data, follow=True).content.decode()


def test_an_unresolved_dead_letter_stays_hidden_on_its_queue_until_resolved(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()
    assert hidden_dead_letters() == 1
    make_visible_again(dead_letter)

    consume_once("dead-letter")

    assert DeadLetterEvent.objects.count() == 1
    assert hidden_dead_letters() == 1, "read again, it is hidden again"
    refreshed = DeadLetterEvent.objects.get()
    assert refreshed.pop_receipt != dead_letter.pop_receipt
    resolve(admin_client, dead_letter.pk)
    assert queue_length("dead-letter") == 0


def test_a_requeued_dead_letter_leaves_the_dead_letter_queue(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    pk = DeadLetterEvent.objects.get().pk

    admin_client.post(CHANGELIST, {"action": "requeue", "_selected_action": [pk], "confirm": "yes"})

    assert queue_length("dead-letter") == 0
    assert queue_length("probe") == 1


def test_a_dead_letter_resolved_with_a_stale_pop_receipt_is_deleted_when_next_read(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()
    make_visible_again(dead_letter)

    resolve(admin_client, dead_letter.pk)
    assert queue_length("dead-letter") == 1, "the stale pop receipt could not delete it"
    consume_once("dead-letter")

    assert queue_length("dead-letter") == 0
    assert DeadLetterEvent.objects.get().state == DeadLetterEvent.State.RESOLVED


def test_resolve_asks_for_a_note_and_records_who_and_when(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    pk = DeadLetterEvent.objects.get().pk

    form = admin_client.post(CHANGELIST, {"action": "resolve", "_selected_action": [pk]})
    assert form.status_code == 200
    assert 'name="note"' in form.content.decode()
    response = admin_client.post(
        CHANGELIST,
        {"action": "resolve", "_selected_action": [pk], "apply": "1", "note": "refunded by hand"},
        follow=True,
    )

    assert "Resolved 1 dead letter(s)." in response.content.decode()
    resolved = DeadLetterEvent.objects.get()
    assert resolved.state == DeadLetterEvent.State.RESOLVED
    assert (resolved.resolved_by, resolved.resolution_note) == ("admin", "refunded by hand")
    assert resolved.resolved_at is not None


def test_resolve_without_a_note_changes_nothing(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    pk = DeadLetterEvent.objects.get().pk

    admin_client.post(CHANGELIST, {"action": "resolve", "_selected_action": [pk], "apply": "1", "note": " "})

    assert DeadLetterEvent.objects.get().state == DeadLetterEvent.State.NEW


def test_the_changelist_filters_by_category_and_finds_a_transaction(queues, probe_handler, admin_client):
    event = dead_letter_a_probe(probe_handler, DeadLetterCategory.REFUND_MANUAL_CHECK_REQUIRED)
    dead_letter_a_probe(probe_handler, DeadLetterCategory.PROCESSING_ERROR)

    filtered = admin_client.get(CHANGELIST, {"category": "REFUND_MANUAL_CHECK_REQUIRED"}).content.decode()
    searched = admin_client.get(CHANGELIST, {"q": event["transactionId"]}).content.decode()
    by_queue_and_state = admin_client.get(CHANGELIST, {"source_queue": "probe", "state": "NEW"}).content.decode()

    assert "1 dead letter event" in filtered
    assert event["transactionId"] in searched
    assert "1 dead letter event" in searched
    assert "2 dead letter events" in by_queue_and_state


def test_the_detail_page_shows_the_original_message_pretty_printed(queues, probe_handler, admin_client):
    event = dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()

    page = admin_client.get(f"{CHANGELIST}{dead_letter.pk}/change/").content.decode()

    indented = json.dumps({"transactionId": event["transactionId"]}, indent=2).splitlines()[1].strip()
    assert indented.replace('"', "&quot;") in page
    assert "downstream was down" in page


def test_nothing_can_be_deleted_or_edited_from_the_admin(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()

    changelist = admin_client.get(CHANGELIST).content.decode()
    delete_page = admin_client.get(f"{CHANGELIST}{dead_letter.pk}/delete/")

    assert 'value="delete_selected"' not in changelist
    assert delete_page.status_code == 403
    assert DeadLetterEvent.objects.count() == 1


def test_an_operator_who_may_only_view_cannot_requeue(queues, probe_handler, client):
    dead_letter_a_probe(probe_handler)
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_deadletterevent"))
    client.force_login(viewer)

    client.post(CHANGELIST, {"action": "requeue", "_selected_action": [DeadLetterEvent.objects.get().pk]})

    assert DeadLetterEvent.objects.get().state == DeadLetterEvent.State.NEW
    assert queue_length("probe") == 0


def requeue_form(page: str) -> bool:
    return 'id="requeue-form"' in page and "Yes, requeue" in page


def test_requeue_from_the_list_asks_first(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()

    page = admin_client.post(CHANGELIST, {"action": "requeue", "_selected_action": [dead_letter.pk]}).content.decode()

    assert requeue_form(page)
    assert "→ <strong>probe</strong>" in page
    assert "EVENT_PARSING_ERROR" not in page
    assert DeadLetterEvent.objects.get().state == DeadLetterEvent.State.NEW
    assert queue_length("probe") == 0


def test_requeue_from_the_detail_page_asks_then_sends(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()
    detail = f"{CHANGELIST}{dead_letter.pk}/change/"
    requeue_url = f"{CHANGELIST}{dead_letter.pk}/requeue/"
    assert requeue_url in admin_client.get(detail).content.decode()

    asked = admin_client.get(requeue_url).content.decode()
    not_confirmed = admin_client.post(requeue_url, {})

    assert requeue_form(asked)
    assert not_confirmed.status_code == 200
    assert queue_length("probe") == 0
    response = admin_client.post(requeue_url, {"confirm": "yes"}, follow=True)
    assert response.redirect_chain[-1][0] == detail
    assert "Requeued 1 dead letter(s)." in response.content.decode()
    assert queue_texts("probe") == [dead_letter.original_message]
    assert requeue_url not in response.content.decode(), "a requeued dead letter offers no second requeue"


def test_resolve_from_the_detail_page_takes_a_note(queues, probe_handler, admin_client):
    dead_letter_a_probe(probe_handler)
    dead_letter = DeadLetterEvent.objects.get()
    resolve_url = f"{CHANGELIST}{dead_letter.pk}/resolve/"

    assert 'name="note"' in admin_client.get(resolve_url).content.decode()
    admin_client.post(resolve_url, {"apply": "1", "note": " "})
    assert DeadLetterEvent.objects.get().state == DeadLetterEvent.State.NEW
    admin_client.post(resolve_url, {"apply": "1", "note": "refunded by hand"})

    resolved = DeadLetterEvent.objects.get()
    assert (resolved.state, resolved.resolution_note, resolved.resolved_by) == ("RESOLVED", "refunded by hand", "admin")
    assert queue_length("dead-letter") == 0


def test_requeuing_a_parsing_error_warns_that_it_will_fail_again(queues, admin_client):
    send_text("probe", "this is not a QueueEvent")
    consume_once("probe")
    consume_once("dead-letter")
    dead_letter = DeadLetterEvent.objects.get()
    assert dead_letter.category == "EVENT_PARSING_ERROR"

    page = admin_client.get(f"{CHANGELIST}{dead_letter.pk}/requeue/").content.decode()

    assert 'id="parsing-warning"' in page
    assert "will fail to parse again" in page


def test_a_requeued_message_that_fails_again_is_linked_to_its_predecessor(queues, probe_handler, admin_client):
    probe_handler(lambda message, outbox: (_ for _ in ()).throw(HandlerError("PROCESSING_ERROR", "still down")))
    send_probe()
    consume_once("probe")
    consume_once("dead-letter")
    first = DeadLetterEvent.objects.get()
    admin_client.post(f"{CHANGELIST}{first.pk}/requeue/", {"confirm": "yes"})

    consume_once("probe")
    consume_once("dead-letter")

    second = DeadLetterEvent.objects.exclude(pk=first.pk).get()
    assert second.predecessor_id == first.pk
    second_page = admin_client.get(f"{CHANGELIST}{second.pk}/change/").content.decode()
    first_page = admin_client.get(f"{CHANGELIST}{first.pk}/change/").content.decode()
    assert f"{CHANGELIST}{first.pk}/change/" in second_page
    assert f"{CHANGELIST}{second.pk}/change/" in first_page


def test_the_list_shows_zone_first_error_line_and_a_link_to_the_transaction(queues, probe_handler, admin_client):
    probe_handler(
        lambda message, outbox: (_ for _ in ()).throw(
            HandlerError("PROCESSING_ERROR", "mail to jane.doe@example.com refused\nTraceback line two")
        )
    )
    event = send_probe()
    consume_once("probe")
    consume_once("dead-letter")

    page = admin_client.get(CHANGELIST).content.decode()

    assert f"/admin/transactions/transaction/{event['transactionId']}/change/" in page
    assert "mail to j***@example.com refused" in page
    assert "jane.doe@example.com" not in page
    assert "Traceback line two" not in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)", page)


def test_search_finds_a_transaction_by_part_of_its_id(queues, probe_handler, admin_client):
    event = dead_letter_a_probe(probe_handler)
    dead_letter_a_probe(probe_handler)

    page = admin_client.get(CHANGELIST, {"q": event["transactionId"][3:11]}).content.decode()

    assert "1 dead letter event" in page
    assert "Part of a transaction id" in page


def test_originals_are_shown_with_addresses_and_numbers_masked(queues, probe_handler, admin_client):
    probe_handler(lambda message, outbox: (_ for _ in ()).throw(HandlerError("PROCESSING_ERROR", "refused")))
    send_probe(transactionId="0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d", creationDate="jane.doe@example.com +447700900123")
    consume_once("probe")
    consume_once("dead-letter")
    dead_letter = DeadLetterEvent.objects.get()

    page = admin_client.get(f"{CHANGELIST}{dead_letter.pk}/change/").content.decode()

    assert "j***@example.com +44*******123" in page
    assert "jane.doe" not in page
    assert "7700900" not in page
    assert "0d4a1f7e2b6c4b5a9e3d8c7b6a5f4e3d" in page
    assert "jane.doe@example.com" in dead_letter.original_message, "stored unchanged, so a requeue is exact"


def test_the_list_costs_the_same_queries_for_3_or_30_dead_letters(queues, admin_client):
    def rows(count: int) -> None:
        for index in range(count):
            DeadLetterEvent.store(
                {
                    "id": f"dl-{count}-{index}",
                    "category": "PROCESSING_ERROR",
                    "source_queue": "refund",
                    "transaction_id": f"{index:032x}",
                    "error": "down",
                    "dead_lettered_at": timezone.now(),
                    "original_message": f"text {index}",
                    "dead_letter_message": "{}",
                }
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    rows(3)
    few = queries()
    rows(30)
    assert queries() == few
