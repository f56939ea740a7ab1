"""Admin pages of the transactions app: read-only, for operators investigating a transaction."""

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from dispatcher_site.admin import ReadOnlyAdmin
from transactions.models import Transaction, TransactionEvent


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("transaction_id", "status", "client_id", "payment_gateway", "payment_type_code", "created_at")
    list_filter = ("status", "payment_gateway", "client_id", "created_at")
    search_fields = ("transaction_id", "payment_tokens", "rpt_ids")
    search_help_text = "Transaction id, payment token or rptId"
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("transaction_id", "status", "client_id", "created_at", "creation_date")}),
        (
            "Payment",
            {
                "fields": (
                    "payment_notices_pretty",
                    "amount_total",
                    "fee_total",
                    "id_cart",
                    "user_id",
                    "email_token",
                )
            },
        ),
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
        (
            "Closure and receipt",
            {"fields": ("closure_error_data", "send_payment_result_outcome", "last_processed_event_at")},
        ),
        ("Events", {"fields": ("events_timeline",)}),
    )
    readonly_fields = (
        "payment_notices_pretty",
        "amount_total",
        "events_timeline",
    )

    @admin.display(description="payment notices")
    def payment_notices_pretty(self, obj: Transaction) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payment_notices, indent=2, ensure_ascii=False))

    @admin.display(description="amount with fee (euro cents)")
    def amount_total(self, obj: Transaction) -> int:
        return obj.amount_total

    @admin.display(description="events, oldest first")
    def events_timeline(self, obj: Transaction) -> str:
        rows = format_html_join(
            "",
            '<li style="margin-bottom:1em"><strong>#{} {}</strong> <span>{}</span>'
            "<pre style='margin:.3em 0'>{}</pre></li>",
            ((e.sequence, e.event_code, e.creation_date, e.pretty_data()) for e in obj.events_in_order()),
        )
        return format_html('<ol style="list-style:none;padding:0" class="transaction-events">{}</ol>', rows)


@admin.register(TransactionEvent)
class TransactionEventAdmin(ReadOnlyAdmin):
    list_display = ("transaction_id", "sequence", "event_code", "creation_date", "stored_at")
    list_filter = ("event_code", "created_at")
    search_fields = ("=transaction_id", "=event_id")
    search_help_text = "Exact transaction id or event id"
    date_hierarchy = "created_at"
    readonly_fields = ("pretty_data",)
    fields = (
        "event_id",
        "transaction_id",
        "sequence",
        "event_code",
        "creation_date",
        "created_at",
        "stored_at",
        "pretty_data",
    )

    @admin.display(description="data")
    def pretty_data(self, obj: TransactionEvent) -> str:
        return format_html("<pre>{}</pre>", obj.pretty_data())
