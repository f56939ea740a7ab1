"""Every write to notifications and their statistics, each a named function (the reference's notifications_dao).

Exactly once (spec Part A §3): a receipt's status change is one conditional UPDATE, `… WHERE id = … AND
status IN (created, sending, pending) RETURNING …` (`dispatcher_site.update_returning`), so of two
receipts racing for one notification only one changes the row, and the row it changed tells the
statistics increment, in the same transaction and only then, which service, type and day to count.
The pending → temporary-failure rewrite is a CASE on the status the same statement is conditional on.
Sending (Part A §7) follows the same rule: a send moves a notification on only from `created`.
Notifications of test keys are never counted (`Notification.counts_in_statistics`).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Case, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from dispatcher_site.instrumentation import statsd
from dispatcher_site.prepared_updates import PreparedUpdate
from notifications.models import (
    CREATED,
    KEY_TYPE_NORMAL,
    KEY_TYPE_TEST,
    PENDING,
    PERMANENT_FAILURE,
    SENDING,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    UPDATABLE_STATUSES,
    ApiKey,
    DailyStatistics,
    Notification,
    Template,
)
from notifications.providers import ProviderOutcome

_UPDATE_FIELDS = ("id", "status", "service_id", "notification_type", "created_at", "sent_at", "key_type")


@dataclass(frozen=True)
class StatusUpdate:
    """What a receipt did: `notification` is None when no notification matched."""

    notification: Notification | None
    applied: bool
    previous_status: str | None = None

    @property
    def status(self) -> str | None:
        return self.notification.status if self.notification else None


def stored_status(current: str, new: str) -> str:
    """A permanent failure after `pending` is stored as temporary-failure (Part B §2.3)."""
    return TEMPORARY_FAILURE if current == PENDING and new == PERMANENT_FAILURE else new


@statsd(namespace="dao")
def create_notification(
    template: Template,
    to: str,
    personalisation: dict,
    api_key: ApiKey | None = None,
    client_reference: str | None = None,
    rendered: tuple[str, str, str] | None = None,
) -> Notification:
    """A `created` notification, counted as requested on its service's statistics row for today (unless
    a test key made it). `rendered` is (body, subject, html body) when the caller rendered it already."""
    if rendered is None:
        body, subject = template.render(personalisation)
        rendered = (body, subject or "", "")
    body, subject, html_body = rendered
    with transaction.atomic():
        notification = Notification.objects.create(
            service_id=template.service_id,
            api_key=api_key,
            key_type=api_key.key_type if api_key else KEY_TYPE_NORMAL,
            template=template,
            template_version=template.version,
            notification_type=template.template_type,
            to=to,
            body=body,
            subject=subject,
            html_body=html_body,
            client_reference=client_reference or "",
        )
        count_in_statistics(notification, "requested")
    return notification


@statsd(namespace="dao")
def count_in_statistics(notification: Notification, outcome: str, amount: int = 1) -> None:
    """Add to the statistics counter of a notification's type and creation day (never for test keys).

    Its timing (`dao.count_in_statistics`) is how long a receipt waits for and writes its statistics row."""
    if notification.counts_in_statistics:
        counter = DailyStatistics.counter(notification.notification_type, outcome)
        DailyStatistics.add(notification.service_id, notification.statistics_day, counter, amount)


@statsd(namespace="dao")
def update_notification_status_by_id(
    notification_id: uuid.UUID | str, outcome: ProviderOutcome, provider_status: str, provider_code: str | None = None
) -> StatusUpdate:
    return _update_status({"id": notification_id}, UPDATABLE_STATUSES, outcome, provider_status, provider_code)


@statsd(namespace="dao")
def update_notification_status_by_reference(
    reference: str, outcome: ProviderOutcome, provider_status: str, provider_code: str | None = None
) -> StatusUpdate:
    # Part A §3: created, sending and pending are updatable whoever reports. An SES receipt can beat the send
    # task's own move to `sending` (the reference is known as soon as SES answers) and must not be lost.
    return _update_status({"reference": reference}, UPDATABLE_STATUSES, outcome, provider_status, provider_code)


def _update_status(
    lookup: dict, updatable: tuple[str, ...], outcome: ProviderOutcome, provider_status: str, provider_code: str | None
) -> StatusUpdate:
    """One conditional UPDATE that returns what the statistics need, and the increment, in one transaction.

    The status is rewritten in the same statement (`pending` + permanent failure → temporary failure),
    so nothing is read first. Only when no row matched (an unknown or already final notification,
    providers retry) is the notification read, after the transaction, to say which it is.
    """
    [(key, value)] = lookup.items()
    update = _receipt_update(key, updatable, outcome.status)
    with transaction.atomic():
        changed = update.run(
            key=value, provider_status=provider_status, provider_code=provider_code or "", updated_at=timezone.now()
        )
        notification = Notification(**changed[0]) if changed else None
        if notification is not None and outcome.statistics_status:
            count_in_statistics(notification, outcome.statistics_status)
    if notification is not None:
        return StatusUpdate(notification, applied=True)
    found = Notification.objects.filter(**lookup).only(*_UPDATE_FIELDS).order_by().first()
    return StatusUpdate(found, applied=False, previous_status=found.status if found else None)


@functools.cache
def _receipt_update(key: str, updatable: tuple[str, ...], new_status: str) -> PreparedUpdate:
    """The receipt's UPDATE … RETURNING for notifications looked up by `key` (id or reference), compiled once."""

    def build(key: Any, provider_status: str, provider_code: str, updated_at: datetime) -> tuple[QuerySet, dict]:
        rows = Notification.objects.filter(**{key_field: key, "status__in": updatable})
        values = {
            "status": _stored_status_expression(new_status),
            "provider_status": provider_status,
            "provider_code": provider_code,
            "updated_at": updated_at,
        }
        return rows, values

    key_field = key
    field = Notification._meta.get_field
    parameters = {name: field(name) for name in ("provider_status", "provider_code", "updated_at")}
    return PreparedUpdate(build, {"key": field(key), **parameters}, returning=_UPDATE_FIELDS)


def _stored_status_expression(new_status: str) -> Case | Value:
    """`stored_status(current, new_status)` as an SQL expression of the row's current status."""
    rewritten = stored_status(PENDING, new_status)
    if rewritten == new_status:
        return Value(new_status)
    return Case(When(status=PENDING, then=Value(rewritten)), default=Value(new_status))


@statsd(namespace="tasks")
def timeout_notifications(timeout_seconds: int, now: datetime | None = None) -> int:
    """Move `created`, `sending` and `pending` notifications older than the period to temporary-failure.

    One conditional bulk update per (service, type, day) group, so the number of rows it changed is
    exactly what that group's failed counter gains, even while receipts race with it.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=timeout_seconds)
    stale = Notification.objects.filter(status__in=UPDATABLE_STATUSES, created_at__lt=cutoff)
    groups = (
        stale.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values_list("service_id", "notification_type", "day", "key_type")
        .order_by()
        .distinct()
    )
    total = 0
    for service_id, notification_type, day, key_type in list(groups):
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with transaction.atomic():
            changed = stale.filter(
                service_id=service_id,
                notification_type=notification_type,
                key_type=key_type,
                created_at__gte=day_start,
                created_at__lt=day_start + timedelta(days=1),
            ).update(status=TEMPORARY_FAILURE, updated_at=timezone.now())
            if changed and key_type != KEY_TYPE_TEST:
                counter = DailyStatistics.counter(notification_type, "failed")
                DailyStatistics.add(service_id, day, counter, changed)
        total += changed
    return total


# --- sending (Part A §7) ------------------------------------------------------------------------------


@statsd(namespace="dao")
def claim_for_sending(notification_id: uuid.UUID, seconds: int) -> bool:
    """Hold a `created` notification for `seconds` while its provider is called; False when it is not
    `created` any more or another consumer holds it (its claim has not run out)."""
    now = timezone.now()
    claimable = Q(send_claimed_until__isnull=True) | Q(send_claimed_until__lte=now)
    return bool(
        Notification.objects.filter(claimable, id=notification_id, status=CREATED).update(
            send_claimed_until=now + timedelta(seconds=seconds)
        )
    )


@statsd(namespace="dao")
def release_send_claim(notification_id: uuid.UUID) -> None:
    """The attempt is over without a send (it is retried later): anyone may claim it again."""
    Notification.objects.filter(id=notification_id, status=CREATED).update(send_claimed_until=None)


@statsd(namespace="dao")
def update_notification_to_sending(
    notification: Notification, provider: str, reference: str, billable_units: int
) -> bool:
    """Record a send: `created` → `sending` with sent_at, sent_by, reference and billable units.

    Only from `created` (Part A §7): when a receipt or the timeout got there first, the status stays
    and only the send's own facts are filled in (once: a repeated send records nothing). True when the
    status moved.
    """
    now = timezone.now()
    sent = {"sent_at": now, "sent_by": provider, "reference": reference, "billable_units": billable_units}
    moved = Notification.objects.filter(id=notification.id, status=CREATED).update(
        status=SENDING, updated_at=now, send_claimed_until=None, **sent
    )
    if not moved:
        Notification.objects.filter(id=notification.id, sent_at__isnull=True).update(**sent)
    return bool(moved)


@statsd(namespace="dao")
def update_notification_to_technical_failure(notification: Notification) -> bool:
    """The last provider attempt failed: `created` → technical-failure, counted once as failed."""
    with transaction.atomic():
        changed = Notification.objects.filter(id=notification.id, status=CREATED).update(
            status=TECHNICAL_FAILURE, updated_at=timezone.now(), send_claimed_until=None
        )
        if changed:
            count_in_statistics(notification, "failed")
    return bool(changed)
