"""The delivery providers in the admin (spec notifications.md Part A §7): priority and activity, each change
a new version recorded with who made it and when, the versions listed under the provider.

Providers are seeded by a migration (their clients are code): nobody adds or deletes one here. The
list edits priority and activity in place; every save goes through `Provider.record_change`.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import Provider, ProviderHistory


class ProviderHistoryInline(admin.TabularInline):
    model = ProviderHistory
    fields = ("version", "priority", "active", "changed_by", "changed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-version",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("display_name", "identifier", "notification_type", "priority", "active", "version", "updated_by")
    list_editable = ("priority", "active")
    list_filter = ("notification_type", "active")
    fields = ("identifier", "display_name", "notification_type", "priority", "active", "version", "updated_at")
    readonly_fields = ("identifier", "display_name", "notification_type", "version", "updated_at")
    inlines = [ProviderHistoryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Provider, form, change: bool) -> None:
        obj.record_change(changed_by=request.user.get_username())
