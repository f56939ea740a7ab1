"""Admin pages of the notifications app (issue 13, Deliver 5).

1. Notifications and statistics are read-only: only receipts, the API and the statistics commands
   change them.
2. Recipients are masked (`07*****123`, `j***@example.com`) and bodies hidden unless the user holds
   `notifications.view_recipient`; only such a user may search by recipient.
3. A notification's page explains `sent_by` and the provider's raw status through that provider's
   mapping table (the same table the callbacks use).
4. Daily statistics show totals and failure rates per service and day, and every count links to the
   notifications behind it (same service, type, outcome and UTC creation day); the filtered list's
   totals sit above it.
5. Revoking API keys asks for confirmation and records each revocation in the key's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Sum
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from dispatcher_site.admin import ReadOnlyAdmin, local_time
from dispatcher_site.pii import mask_recipient
from notifications import admin_providers  # noqa: F401 - registers the provider table's admin
from notifications.models import (
    DELIVERED,
    EMAIL,
    FAILURE_STATUSES,
    SMS,
    ApiKey,
    DailyStatistics,
    Notification,
    Service,
    Template,
)
from notifications.providers import firetext, mmg, ses

RECIPIENT_PERMISSION = "notifications.view_recipient"
PROVIDERS = {
    "firetext": ("Firetext (SMS)", firetext.RESPONSES.get),
    "mmg": ("MMG (SMS)", mmg.outcome),
    "ses": ("Amazon SES (e-mail)", None),
}


def may_see_recipients(request) -> bool:
    return request.user.has_perm(RECIPIENT_PERMISSION)


def explain_provider_status(sent_by: str, status: str, code: str) -> str:
    """What the provider's raw receipt status means, from that provider's mapping table."""
    if not status:
        return "no receipt yet"
    if sent_by == "ses":
        key = status if status != "Bounce" else ("Permanent" if code == "Permanent" else "Temporary")
        outcome = ses.RESPONSES.get(key)
    elif sent_by in PROVIDERS:
        outcome = PROVIDERS[sent_by][1](status)
    else:
        outcome = None
    if outcome is None:
        return f"{status}: not in the {sent_by or 'unknown'} provider's table"
    counted = f"counted as {outcome.statistics_status}" if outcome.statistics_status else "not counted yet"
    return f"{status}{f' / {code}' if code else ''}: “{outcome.message.strip()}” → {outcome.status} ({counted})"


class TemplateInline(admin.TabularInline):
    model = Template
    fields = ("name", "template_type", "version", "archived")
    readonly_fields = ("version",)
    extra = 0
    show_change_link = True


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "email_from", "reply_to_email_address", "sms_sender", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_at")
    inlines = [TemplateInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "service", "key_type", "created_at", "revoked_at")
    list_filter = ("key_type", "service")
    search_fields = ("name", "service__name")
    readonly_fields = ("id", "service", "name", "key_type", "created_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Keys are issued by `manage.py create_service`, which shows the secret once.
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoked, never deleted: notifications keep naming the key that sent them.
        return False

    @admin.action(description="Revoke the selected API keys…")
    def revoke(self, request, queryset):
        keys = list(queryset.select_related("service"))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Revoke API keys?",
                "keys": keys,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/notifications/apikey/revoke.html", context)
        revoked = 0
        for key in keys:
            if ApiKey.objects.filter(id=key.id, revoked_at=None).update(revoked_at=timezone.now()):
                self.log_change(request, key, "Revoked")
                revoked += 1
        self.message_user(request, f"{revoked} API keys revoked.", messages.SUCCESS)
        return None


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "service", "template_type", "version", "archived", "updated_at")
    list_filter = ("template_type", "archived", "service")
    search_fields = ("name", "content", "id")
    readonly_fields = ("id", "version", "created_at", "updated_at")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "service", "notification_type", "status", "recipient", "sent_by", "created", "updated")
    list_filter = ("status", "notification_type", "sent_by", "service")
    search_help_text = "Notification id, provider reference or client reference (and recipient, with the permission)"
    date_hierarchy = "created_at"
    list_select_related = ("service",)
    fields = (
        "id",
        "service",
        "template",
        "template_version",
        "notification_type",
        "recipient",
        "subject_hidden",
        "body_hidden",
        "status",
        "sent_by_explained",
        "provider_status_explained",
        "reference",
        "client_reference",
        "created",
        "sent",
        "updated",
    )
    # The columns and fields a user with the recipient permission sees instead of the masked ones.
    UNMASKED = {"recipient": "to", "subject_hidden": "subject", "body_hidden": "body_pretty"}

    def unmasked(self, request, names):
        if not may_see_recipients(request):
            return tuple(names)
        return tuple(self.UNMASKED.get(name, name) for name in names)

    def get_list_display(self, request):
        return self.unmasked(request, self.list_display)

    def get_fields(self, request, obj=None):
        return self.unmasked(request, self.fields)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_search_fields(self, request):
        # Searching by recipient would tell a user who may not see recipients who received what.
        return ("id", "reference", "client_reference", *(("to",) if may_see_recipients(request) else ()))

    @admin.display(description="recipient")
    def recipient(self, obj: Notification) -> str:
        return mask_recipient(obj.to)

    @admin.display(description="subject")
    def subject_hidden(self, obj: Notification) -> str:
        return "hidden (needs the recipient permission)" if obj.subject else "-"

    @admin.display(description="body")
    def body_hidden(self, obj: Notification) -> str:
        return "hidden (needs the recipient permission)"

    @admin.display(description="body")
    def body_pretty(self, obj: Notification) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.body)

    @admin.display(description="sent by")
    def sent_by_explained(self, obj: Notification) -> str:
        if not obj.sent_by:
            return "not sent yet"
        name = PROVIDERS.get(obj.sent_by, (obj.sent_by,))[0]
        return f"{obj.sent_by}: {name}, the provider that took the message; its receipts update the status"

    @admin.display(description="provider's status")
    def provider_status_explained(self, obj: Notification) -> str:
        return explain_provider_status(obj.sent_by, obj.provider_status, obj.provider_code)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Notification) -> str:
        return local_time(obj.created_at)

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj: Notification) -> str:
        return local_time(obj.sent_at)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Notification) -> str:
        return local_time(obj.updated_at)


def notifications_url(statistics: DailyStatistics, notification_type: str | None, outcome: str) -> str:
    """The notifications behind one count: service, type, outcome and UTC creation day."""
    start = datetime.combine(statistics.day, time.min, tzinfo=UTC)
    filters = {
        "service__id__exact": statistics.service_id,
        "created_at__gte": start.isoformat(),
        "created_at__lt": (start + timedelta(days=1)).isoformat(),
    }
    if notification_type:
        filters["notification_type__exact"] = notification_type
    if outcome == "delivered":
        filters["status__exact"] = DELIVERED
    elif outcome == "failed":
        filters["status__in"] = ",".join(FAILURE_STATUSES)
    return f"{reverse('admin:notifications_notification_changelist')}?{urlencode(filters)}"


def rate(failed: int, requested: int) -> str:
    return f"{100 * failed / requested:.1f} %" if requested else "-"


def count_column(notification_type: str | None, outcome: str):
    column = DailyStatistics.counter(notification_type, outcome) if notification_type else None
    label = f"{'SMS' if notification_type == SMS else 'e-mails' if notification_type == EMAIL else 'all'} {outcome}"

    @admin.display(description=label, ordering=f"total_{column}" if column else None)
    def show(self, obj: DailyStatistics) -> str:
        value = getattr(obj, f"total_{column}") if column else total(obj, outcome)
        return format_html('<a href="{}">{}</a>', notifications_url(obj, notification_type, outcome), value)

    show.__name__ = f"{notification_type or 'all'}_{outcome}"
    return show


def total(obj: DailyStatistics, outcome: str) -> int:
    """SMS and e-mails together, of the day's totals (`DailyStatistics.objects.with_day_totals()`)."""
    return getattr(obj, f"total_sms_{outcome}") + getattr(obj, f"total_emails_{outcome}")


@admin.register(DailyStatistics)
class DailyStatisticsAdmin(ReadOnlyAdmin):
    list_display = (
        "day",
        "service",
        "sms_requested_link",
        "sms_delivered_link",
        "sms_failed_link",
        "sms_failure_rate",
        "email_requested_link",
        "email_delivered_link",
        "email_failed_link",
        "email_failure_rate",
        "all_requested_link",
        "all_failure_rate",
    )
    list_filter = ("service",)
    date_hierarchy = "day"
    list_select_related = ("service",)
    change_list_template = "admin/notifications/dailystatistics/change_list.html"

    sms_requested_link = count_column(SMS, "requested")
    sms_delivered_link = count_column(SMS, "delivered")
    sms_failed_link = count_column(SMS, "failed")
    email_requested_link = count_column(EMAIL, "requested")
    email_delivered_link = count_column(EMAIL, "delivered")
    email_failed_link = count_column(EMAIL, "failed")
    all_requested_link = count_column(None, "requested")

    def get_queryset(self, request):
        # One line per service and day: its first slot, carrying the day's totals over every slot.
        return super().get_queryset(request).with_day_totals()

    @admin.display(description="SMS failed %")
    def sms_failure_rate(self, obj: DailyStatistics) -> str:
        return rate(obj.total_sms_failed, obj.total_sms_requested)

    @admin.display(description="e-mails failed %")
    def email_failure_rate(self, obj: DailyStatistics) -> str:
        return rate(obj.total_emails_failed, obj.total_emails_requested)

    @admin.display(description="all failed %")
    def all_failure_rate(self, obj: DailyStatistics) -> str:
        return rate(total(obj, "failed"), total(obj, "requested"))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            # The listed days' totals (each already summed over its slots), added up.
            sums = changelist.queryset.aggregate(**{name: Sum(f"total_{name}") for name in DailyStatistics.COUNTERS})
            sums = {name: value or 0 for name, value in sums.items()}
            requested = sums["sms_requested"] + sums["emails_requested"]
            failed = sums["sms_failed"] + sums["emails_failed"]
            response.context_data["totals"] = {
                **sums,
                "sms_rate": rate(sums["sms_failed"], sums["sms_requested"]),
                "emails_rate": rate(sums["emails_failed"], sums["emails_requested"]),
                "requested": requested,
                "rate": rate(failed, requested),
            }
        return response
