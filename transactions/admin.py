"""Admin pages of the transactions app: read-only, for operators investigating a transaction (issue 13).

1. The list shows age and time in status (since the latest event), amounts in euro, times in the
   console's zone with its name, the NEW dead letters of each transaction, and filters by "stuck for
   more than …" (a transient status, spec §2, held longer than the chosen time).
2. A transaction's page shows a readable timeline: each event with its time, the fields that matter
   and its raw JSON folded (addresses and phone numbers masked); and its dead letters, linked, with the
   requeue of a pending one one click away.
The list costs the same number of queries however many rows it shows (annotations, no per-row reads).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from dispatcher_site.admin import ReadOnlyAdmin, age, local_time
from dispatcher_site.pii import mask_text
from receivers.models import DeadLetterEvent
from transactions.models import Transaction, TransactionEvent

# Event fields not worth a line in the timeline: lists shown in full on the page, or opaque tokens.
NOISY_FIELDS = ("paymentNotices", "email", "userId", "idCart", "transactionGatewayData", "paymentTokens")
MAX_TIMELINE_FIELDS = 10


def euro(cents: int | None) -> str:
    """Integer euro cents as `123.45 €` (decimal arithmetic, spec Part A §10)."""
    if cents is None:
        return "-"
    return f"{Decimal(cents).scaleb(-2):.2f} €"


class StuckFilter(admin.SimpleListFilter):
    title = "stuck for more than"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        minutes = sorted({15, 60, settings.DISPATCHER.CONSOLE_STUCK_TRANSACTION_MINUTES, 240, 1440})
        return [(str(m), f"{m // 60} h" if m % 60 == 0 else f"{m} min") for m in minutes]

    def queryset(self, request, queryset):
        if not (self.value() or "").isdigit():
            return queryset
        return queryset.stuck(timedelta(minutes=int(self.value())))


def new_dead_letters_count():
    """Annotation: NEW dead letters of each transaction (one subquery, no per-row read)."""
    counted = (
        DeadLetterEvent.objects.filter(transaction_id=OuterRef("pk"), state=DeadLetterEvent.State.NEW)
        .order_by()
        .values("transaction_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def dead_letters_url(transaction_id: str, **filters: str) -> str:
    query = urlencode({"transaction_id__exact": transaction_id, **filters})
    return f"{reverse('admin:receivers_deadletterevent_changelist')}?{query}"


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = (
        "transaction_id",
        "status",
        "in_status_for",
        "created_and_age",
        "amount",
        "dead_letters",
    )
    list_filter = (StuckFilter, "status", "payment_gateway", "client_id", "created_at")
    search_fields = ("transaction_id", "payment_tokens", "rpt_ids")
    search_help_text = "Transaction id, payment token or rptId (or part of one)"
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("transaction_id", "status", "in_status_for", "created", "age", "client_id")}),
        ("Dead letters", {"fields": ("dead_letters_detail",)}),
        ("Payment", {"fields": ("payment_notices_pretty", "amount", "fee", "id_cart", "user_id", "email_token")}),
        (
            "Authorization",
            {
                "fields": (
                    "payment_gateway",
                    "payment_type_code",
                    "psp_id",
                    "rrn",
                    "authorization_code",
                    "authorization_error_code",
                    "gateway_authorization_status",
                )
            },
        ),
        ("Closure and receipt", {"fields": ("closure_error_data", "send_payment_result_outcome", "last_processed")}),
        ("Events", {"fields": ("events_timeline",)}),
    )
    readonly_fields = (
        "in_status_for",
        "created",
        "age",
        "amount",
        "fee",
        "dead_letters_detail",
        "payment_notices_pretty",
        "last_processed",
        "events_timeline",
    )

    class Media:
        css = {"all": ("dispatcher_site/console.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).with_status_since().annotate(new_dead_letters=new_dead_letters_count())

    @admin.display(description="in status for", ordering="status_since")
    def in_status_for(self, obj: Transaction) -> str:
        return age(obj.status_since)

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Transaction) -> str:
        return age(obj.created_at)

    @admin.display(description="created / age", ordering="created_at")
    def created_and_age(self, obj: Transaction) -> str:
        return format_html(
            '{}<br><span class="console-quiet">{} ago</span>',
            local_time(obj.created_at, seconds=False),
            age(obj.created_at),
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Transaction) -> str:
        return local_time(obj.created_at)

    @admin.display(description="amount (with fee)")
    def amount(self, obj: Transaction) -> str:
        return euro(obj.amount_total)

    @admin.display(description="fee")
    def fee(self, obj: Transaction) -> str:
        return euro(obj.fee_total)

    @admin.display(description="last processed event")
    def last_processed(self, obj: Transaction) -> str:
        if obj.last_processed_event_at is None:
            return "-"
        return local_time(datetime.fromtimestamp(obj.last_processed_event_at / 1000, tz=UTC))

    @admin.display(description="dead letters", ordering="new_dead_letters")
    def dead_letters(self, obj: Transaction) -> str:
        if not obj.new_dead_letters:
            return "-"
        url = dead_letters_url(obj.transaction_id, state__exact="NEW")
        return format_html('<a class="console-alert" href="{}">{}</a>', url, obj.new_dead_letters)

    @admin.display(description="dead letters of this transaction")
    def dead_letters_detail(self, obj: Transaction) -> str:
        rows = list(DeadLetterEvent.objects.filter(transaction_id=obj.transaction_id).order_by("-dead_lettered_at"))
        if not rows:
            return "none"
        items = format_html_join(
            "",
            '<li><a href="{}">{} · {} · from {} · {}</a>{}</li>',
            (
                (
                    reverse("admin:receivers_deadletterevent_change", args=[row.pk]),
                    local_time(row.dead_lettered_at),
                    row.category or "no category",
                    row.source_queue or "?",
                    row.get_state_display(),
                    format_html(
                        ' — <a class="console-alert" href="{}">requeue to {}…</a>',
                        reverse("admin:receivers_deadletterevent_requeue", args=[row.pk]),
                        row.source_queue,
                    )
                    if row.unresolved
                    else "",
                )
                for row in rows
            ),
        )
        return format_html('<ul id="transaction-dead-letters">{}</ul>', items)

    @admin.display(description="payment notices")
    def payment_notices_pretty(self, obj: Transaction) -> str:
        return format_html("<pre>{}</pre>", mask_text(json.dumps(obj.payment_notices, indent=2, ensure_ascii=False)))

    @admin.display(description="events, oldest first")
    def events_timeline(self, obj: Transaction) -> str:
        items = format_html_join(
            "",
            '<li><strong>#{} {}</strong> · {}<div class="console-fields">{}</div>'
            "<details><summary>raw JSON</summary><pre>{}</pre></details></li>",
            (
                (
                    event.sequence,
                    event.event_code,
                    local_time(event.created_at),
                    timeline_fields(event.data),
                    mask_text(event.pretty_data()),
                )
                for event in obj.events_in_order()
            ),
        )
        return format_html('<ol class="console-timeline transaction-events">{}</ol>', items)


def timeline_fields(data: Any) -> str:
    """The event's scalar fields that matter, `name: value`, amounts in euro, masked."""
    fields = list(flat_fields(data))[:MAX_TIMELINE_FIELDS]
    if not fields:
        return ""
    return format_html_join(" · ", "{}: <strong>{}</strong>", fields)


def flat_fields(data: Any, prefix: str = "", depth: int = 0):
    if not isinstance(data, dict) or depth > 2:
        return
    for key, value in data.items():
        if key in NOISY_FIELDS or value in (None, "", [], {}):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flat_fields(value, f"{name}.", depth + 1)
        elif isinstance(value, int | float | str | bool):
            shown = euro(value) if isinstance(value, int) and key.lower().endswith(("amount", "fee")) else value
            yield name, mask_text(str(shown))


@admin.register(TransactionEvent)
class TransactionEventAdmin(ReadOnlyAdmin):
    list_display = ("transaction_id", "sequence", "event_code", "created", "stored")
    list_filter = ("event_code", "created_at")
    search_fields = ("=transaction_id", "=event_id")
    search_help_text = "Exact transaction id or event id"
    date_hierarchy = "created_at"
    readonly_fields = ("pretty_data", "created", "stored")
    fields = (
        "event_id",
        "transaction_id",
        "sequence",
        "event_code",
        "creation_date",
        "created",
        "stored",
        "pretty_data",
    )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: TransactionEvent) -> str:
        return local_time(obj.created_at)

    @admin.display(description="stored", ordering="stored_at")
    def stored(self, obj: TransactionEvent) -> str:
        return local_time(obj.stored_at)

    @admin.display(description="data (e-mail addresses and phone numbers masked)")
    def pretty_data(self, obj: TransactionEvent) -> str:
        return format_html("<pre>{}</pre>", mask_text(obj.pretty_data()))
