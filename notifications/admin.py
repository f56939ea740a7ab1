"""Admin pages of the notifications app. Notifications and statistics are read-only: only receipts,
the API and the statistics commands change them."""

from django.contrib import admin, messages
from django.utils import timezone

from dispatcher_site.admin import ReadOnlyAdmin
from notifications.models import ApiKey, DailyStatistics, Notification, Service, Template


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
    list_display = ("name", "service", "created_at", "revoked_at")
    list_filter = ("service",)
    search_fields = ("name", "service__name")
    readonly_fields = ("id", "service", "name", "created_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Keys are issued by `manage.py create_service`, which shows the secret once.
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoked, never deleted: notifications keep naming the key that sent them.
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at=None).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} API keys revoked.", messages.SUCCESS)


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "service", "template_type", "version", "archived", "updated_at")
    list_filter = ("template_type", "archived", "service")
    search_fields = ("name", "content", "id")
    readonly_fields = ("id", "version", "created_at", "updated_at")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "service", "notification_type", "status", "to", "sent_by", "created_at", "updated_at")
    list_filter = ("status", "notification_type", "sent_by", "service")
    search_fields = ("id", "reference", "client_reference", "to")
    date_hierarchy = "created_at"
    list_select_related = ("service",)


@admin.register(DailyStatistics)
class DailyStatisticsAdmin(ReadOnlyAdmin):
    list_display = ("day", "service", *DailyStatistics.COUNTERS)
    list_filter = ("service",)
    date_hierarchy = "day"
    list_select_related = ("service",)
