"""PreparedUpdate (dispatcher_site/prepared_updates.py): the ORM's UPDATE compiled once, then sent with
each run's own values; on both databases of the suite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from dispatcher_site.prepared_updates import PreparedUpdate
from dispatcher_site.update_returning import update_returning
from notifications import dao
from notifications.models import UPDATABLE_STATUSES, Notification, _slot_increment

field = Notification._meta.get_field
RETURNED = ("id", "status", "updated_at", "billable_units")


def status_update(returning=RETURNED) -> PreparedUpdate:
    def build(key, provider_code, updated_at):
        rows = Notification.objects.filter(id=key, status__in=("sending", "pending"))
        return rows, {"status": "delivered", "provider_code": provider_code, "updated_at": updated_at}

    fields = {"key": field("id"), "provider_code": field("provider_code"), "updated_at": field("updated_at")}
    return PreparedUpdate(build, fields, returning=returning)


@pytest.mark.django_db
def test_each_run_sends_its_own_values_not_the_first_runs(make_notification):
    update = status_update()
    first, second = make_notification(status="sending"), make_notification(status="sending")
    first_time = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    second_time = first_time + timedelta(hours=1)

    update.run(key=first.id, provider_code="101", updated_at=first_time)
    update.run(key=second.id, provider_code="202", updated_at=second_time)

    assert update.is_compiled()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.provider_code, first.updated_at) == ("delivered", "101", first_time)
    assert (second.status, second.provider_code, second.updated_at) == ("delivered", "202", second_time)


@pytest.mark.django_db
def test_returned_rows_are_the_changed_rows_converted_as_the_orm_reads_them(make_notification):
    notification = make_notification(status="sending")
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)

    [row] = status_update().run(key=notification.id, provider_code="0", updated_at=at)

    read = Notification.objects.values(*RETURNED).get(id=notification.id)
    assert row == read
    assert isinstance(row["id"], uuid.UUID)
    assert row["updated_at"] == at


@pytest.mark.django_db
def test_rows_the_filter_excludes_are_left_alone(make_notification):
    update = status_update()
    final = make_notification(status="delivered")
    assert update.run(key=final.id, provider_code="1", updated_at=datetime.now(UTC)) == []
    assert update.run(key=uuid.uuid4(), provider_code="1", updated_at=datetime.now(UTC)) == []
    final.refresh_from_db()
    assert final.provider_code == ""


@pytest.mark.django_db
def test_the_statement_is_the_one_the_orm_sends(make_notification):
    prepared_row, orm_row = make_notification(status="sending"), make_notification(status="sending")
    at = datetime.now(UTC)
    with CaptureQueriesContext(connection) as prepared:
        status_update().run(key=prepared_row.id, provider_code="7", updated_at=at)
    with CaptureQueriesContext(connection) as orm:
        update_returning(
            Notification.objects.filter(id=orm_row.id, status__in=("sending", "pending")),
            RETURNED,
            status="delivered",
            provider_code="7",
            updated_at=at,
        )

    def without(row, queries):
        return [q["sql"].replace(str(row.id), "ID").replace(row.id.hex, "ID") for q in queries]

    assert without(prepared_row, prepared) == without(orm_row, orm)


@pytest.mark.django_db
def test_without_returning_a_run_gives_the_number_of_rows_changed(make_notification):
    notification = make_notification(status="sending")
    update = status_update(returning=())
    assert update.run(key=notification.id, provider_code="1", updated_at=datetime.now(UTC)) == 1
    assert update.run(key=notification.id, provider_code="1", updated_at=datetime.now(UTC)) == 0


@pytest.mark.django_db
def test_a_parameter_used_twice_cannot_be_placed_so_every_run_goes_through_the_orm(make_notification):
    def build(units):
        return Notification.objects.filter(billable_units__lt=units), {"billable_units": F("billable_units") + units}

    update = PreparedUpdate(build, {"units": field("billable_units")})
    notification = make_notification(status="sending")
    Notification.objects.filter(id=notification.id).update(billable_units=1)

    assert update.run(units=5) == Notification.objects.count()
    assert not update.is_compiled()
    notification.refresh_from_db()
    assert notification.billable_units == 6


@pytest.mark.django_db(transaction=True)
def test_receipts_and_statistics_use_the_compiled_statements(client, make_notification):
    """The receipt path's two UPDATEs are placed, not silently falling back to the ORM."""
    notification = make_notification(status="sending")
    response = client.post(
        "/notifications/sms/firetext",
        {"mobile": "441234123123", "status": "0", "time": "2016-03-10 14:17:00", "reference": str(notification.id)},
    )
    assert response.status_code == 200
    assert dao._receipt_update("id", UPDATABLE_STATUSES, "delivered").is_compiled()
    assert _slot_increment("sms_delivered").is_compiled()
