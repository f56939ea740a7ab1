"""Every write to notifications and their statistics, each a named function (the reference's notifications_dao).

Exactly once (spec Part A §3): a status changes by compare-and-set, `filter(id=…, status=<status just
read>).update(…)`, so of two receipts racing for one notification only one changes the row; the
statistics counter is added to in the same transaction, with `F() + 1`, and only by the one that changed
it. The pending → temporary-failure rewrite is decided from the status the same update is conditional on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models.functions import TruncDate
from django.utils import timezone

from dispatcher_site.instrumentation import statsd
from notifications.models import (
    PENDING,
    PERMANENT_FAILURE,
    TEMPORARY_FAILURE,
    UPDATABLE_STATUSES,
    ApiKey,
    DailyStatistics,
    Notification,
    Template,
)
from notifications.providers import ProviderOutcome

# Each attempt that loses a race sees a later status; a status moves forward at most three times.
_MAX_ATTEMPTS = 5
_UPDATE_FIELDS = ("id", "status", "service_id", "notification_type", "created_at", "sent_at")


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
) -> Notification:
    """A `created` notification, counted as requested on its service's statistics row for today."""
    body, subject = template.render(personalisation)
    with transaction.atomic():
        notification = Notification.objects.create(
            service_id=template.service_id,
            api_key=api_key,
            template=template,
            template_version=template.version,
            notification_type=template.template_type,
            to=to,
            body=body,
            subject=subject or "",
            client_reference=client_reference or "",
        )
        counter = DailyStatistics.counter(notification.notification_type, "requested")
        DailyStatistics.add(notification.service_id, notification.statistics_day, counter)
    return notification


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
    for _ in range(_MAX_ATTEMPTS):
        # Read before the transaction: the update is conditional on the status read, so reading inside it
        # adds no safety, and a receipt for an unknown or already final notification (providers retry)
        # then costs one statement without a BEGIN and a COMMIT.
        matches = Notification.objects.filter(**lookup).only(*_UPDATE_FIELDS).order_by()[:1]
        notification = next(iter(matches), None)
        if notification is None:
            return StatusUpdate(None, applied=False)
        previous = notification.status
        if previous not in updatable:
            return StatusUpdate(notification, applied=False, previous_status=previous)
        new_status = stored_status(previous, outcome.status)
        now = timezone.now()
        with transaction.atomic():
            changed = Notification.objects.filter(id=notification.id, status=previous).update(
                status=new_status, provider_status=provider_status, provider_code=provider_code or "", updated_at=now
            )
            if changed and new_status != previous and outcome.statistics_status:
                counter = DailyStatistics.counter(notification.notification_type, outcome.statistics_status)
                DailyStatistics.add(notification.service_id, notification.statistics_day, counter)
        if changed:
            notification.status, notification.updated_at = new_status, now
            return StatusUpdate(notification, applied=True, previous_status=previous)
    raise RuntimeError(f"notification {lookup} kept changing status during {_MAX_ATTEMPTS} attempts")


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
        .values_list("service_id", "notification_type", "day")
        .order_by()
        .distinct()
    )
    total = 0
    for service_id, notification_type, day in list(groups):
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with transaction.atomic():
            changed = stale.filter(
                service_id=service_id,
                notification_type=notification_type,
                created_at__gte=day_start,
                created_at__lt=day_start + timedelta(days=1),
            ).update(status=TEMPORARY_FAILURE, updated_at=timezone.now())
            if changed:
                counter = DailyStatistics.counter(notification_type, "failed")
                DailyStatistics.add(service_id, day, counter, changed)
        total += changed
    return total
