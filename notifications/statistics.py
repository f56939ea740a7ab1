"""Daily statistics: the operator read API and the recomputation from notification rows (Part A §4)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from notifications.envelope import envelope
from notifications.models import DELIVERED, FAILURE_STATUSES, KEY_TYPE_TEST, DailyStatistics, Notification, Service

Key = tuple[uuid.UUID, date]
# A hundred years: beyond it the date arithmetic overflows (a 500 found by fuzzing, issue 14).
MAX_LIMIT_DAYS = 36500


@dataclass(frozen=True)
class Difference:
    service_id: uuid.UUID
    day: date
    counter: str
    stored: int
    computed: int

    def __str__(self) -> str:
        return (
            f"service {self.service_id} day {self.day} {self.counter}: stored {self.stored}, computed {self.computed}"
        )


def computed_counters() -> dict[Key, dict[str, int]]:
    """What every statistics row should hold, from a GROUP BY over the notification rows (test keys'
    notifications are simulated and never counted)."""
    counters: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DailyStatistics.COUNTERS, 0))
    rows = (
        Notification.objects.exclude(key_type=KEY_TYPE_TEST)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values_list("service_id", "day", "notification_type", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    for service_id, day, notification_type, status, count in rows:
        row = counters[(service_id, day)]
        row[DailyStatistics.counter(notification_type, "requested")] += count
        if status == DELIVERED:
            row[DailyStatistics.counter(notification_type, "delivered")] += count
        elif status in FAILURE_STATUSES:
            row[DailyStatistics.counter(notification_type, "failed")] += count
    return counters


def stored_counters() -> dict[Key, dict[str, int]]:
    """What the statistics rows hold, each day's slots summed."""
    return {
        (row["service_id"], row["day"]): {c: row[c] for c in DailyStatistics.COUNTERS}
        for row in DailyStatistics.objects.per_day()
    }


def differences() -> list[Difference]:
    """Every counter whose stored value is not what the notification rows say (missing rows read as 0)."""
    computed, stored = computed_counters(), stored_counters()
    zero = dict.fromkeys(DailyStatistics.COUNTERS, 0)
    found = []
    for key in sorted(set(computed) | set(stored), key=lambda k: (str(k[0]), k[1])):
        want, have = computed.get(key, zero), stored.get(key, zero)
        found += [Difference(*key, c, have[c], want[c]) for c in DailyStatistics.COUNTERS if have[c] != want[c]]
    return found


def rebuild() -> list[Difference]:
    """Set every counter to its computed value; returns what was wrong. Rows without notifications become 0."""
    with transaction.atomic():
        # Lock the statistics rows so no receipt adds to a row between our read and our write.
        list(DailyStatistics.objects.select_for_update().values_list("id"))
        found = differences()
        by_row: dict[Key, dict[str, int]] = defaultdict(dict)
        for difference in found:
            by_row[(difference.service_id, difference.day)][difference.counter] = difference.computed
        for (service_id, day), values in by_row.items():
            # The computed value goes into slot 0, and the day's other slots give up that counter.
            DailyStatistics.objects.filter(service_id=service_id, day=day).exclude(slot=0).update(
                **dict.fromkeys(values, 0)
            )
            DailyStatistics.objects.update_or_create(service_id=service_id, day=day, slot=0, defaults=values)
    return found


def serialize(day: dict) -> dict:
    """One day of `DailyStatistics.objects.per_day()`, as the 2016 API wrote a statistics row."""
    return {"id": day["id"], "service": str(day["service_id"]), "day": day["day"].isoformat()} | {
        c: day[c] for c in DailyStatistics.COUNTERS
    }


@require_GET
def get_notification_statistics_for_service(request: HttpRequest, service_id: uuid.UUID) -> JsonResponse:
    if not Service.objects.filter(id=service_id).exists():
        return envelope("No result found", 404)
    rows = DailyStatistics.objects.filter(service_id=service_id)
    limit_days = request.GET.get("limit_days")
    if limit_days is not None:
        try:
            days = int(limit_days)
        except ValueError:
            message = {"limit_days": [f"{limit_days} is not an integer"]}
            return envelope(message, 400)
        if not 0 <= days <= MAX_LIMIT_DAYS:
            return envelope({"limit_days": [f"{limit_days} is not between 0 and {MAX_LIMIT_DAYS}"]}, 400)
        rows = rows.filter(day__gt=timezone.now().astimezone(UTC).date() - timedelta(days=days))
    return JsonResponse({"data": [serialize(day) for day in rows.per_day()]})
