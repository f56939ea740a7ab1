"""The outbox in the admin (spec Part A §11): what waits to be sent, what was refused, and a way to
send a refused row again once its cause is fixed (a queue created, a permission granted).

Rows are written by decisions and relayed by consumers: nobody edits them. "Send again" moves REFUSED
rows back to PENDING, due now, and records who did it; the consumers' relay sweep then sends them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from dispatcher_site.admin import ReadOnlyAdmin
from dispatcher_site.pii import mask_text
from receivers.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "queue_key", "state", "transaction_id", "event_code", "attempts", "sent_at")
    list_filter = ("state", "queue_key", "is_dead_letter", "created_at")
    search_fields = ("=transaction_id", "=source_message_id", "=id")
    date_hierarchy = "created_at"
    actions = ["send_again"]
    fields = (
        "id",
        "queue_key",
        "state",
        "is_dead_letter",
        "transaction_id",
        "event_code",
        "source_queue",
        "source_message_id",
        "created_at",
        "available_at",
        "attempts",
        "sent_at",
        "last_error",
        "visibility_seconds",
        "time_to_live_seconds",
        "text_pretty",
    )
    readonly_fields = fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_send_again_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("receivers.change_outboxmessage")

    @admin.display(description="text")
    def text_pretty(self, obj: OutboxMessage) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_text(obj.text))

    @admin.action(description="Send refused rows again", permissions=["send_again"])
    def send_again(self, request: HttpRequest, queryset) -> None:
        refused = list(queryset.filter(state=OutboxMessage.State.REFUSED))
        note = f"sent again by {request.user.get_username()} at {timezone.now().isoformat()}"
        changed = OutboxMessage.objects.filter(
            pk__in=[row.pk for row in refused], state=OutboxMessage.State.REFUSED
        ).update(state=OutboxMessage.State.PENDING, available_at=timezone.now(), attempts=F("attempts") + 1)
        for row in refused:
            self.log_change(request, row, note)
        self.message_user(request, f"{changed} refused row(s) will be sent by the next relay sweep.", messages.SUCCESS)
        skipped = queryset.count() - len(refused)
        if skipped:
            self.message_user(request, f"Skipped {skipped} row(s) that were not refused.", messages.WARNING)
