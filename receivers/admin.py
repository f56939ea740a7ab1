"""Admin pages of the receivers app: dead letters (requeue, resolve) and receiver control (start, stop).

Both are read-only records: operators act through admin actions, and every action records who and
when, on the row itself and in the admin's history (LogEntry). Nothing is deleted from here.
"""

from __future__ import annotations

import logging

import redis
from azure.core.exceptions import AzureError
from django.contrib import admin, messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from dispatcher_site.admin import ReadOnlyAdmin
from receivers.control import VERSIONS, read_statuses, send_command
from receivers.dead_letters import delete_dead_letter_message
from receivers.models import DeadLetterEvent, ReceiverCommand
from receivers.queues import QUEUES, send_text

logger = logging.getLogger(__name__)


@admin.register(DeadLetterEvent)
class DeadLetterEventAdmin(ReadOnlyAdmin):
    list_display = ("dead_lettered_at", "category", "source_queue", "transaction_id", "event_code", "state")
    list_filter = ("category", "source_queue", "state", "dead_lettered_at")
    search_fields = ("=transaction_id", "=id")
    date_hierarchy = "dead_lettered_at"
    actions = ["requeue", "resolve"]
    fields = (
        "id",
        "category",
        "source_queue",
        "transaction_id",
        "event_code",
        "error",
        "dequeue_count",
        "dead_lettered_at",
        "stored_at",
        "state",
        "requeued_at",
        "requeued_by",
        "resolved_at",
        "resolved_by",
        "resolution_note",
        "original_message_truncated",
        "original_message_pretty",
    )
    readonly_fields = fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_requeue_permission(self, request):
        # Acting on a dead letter takes the model's change permission, although no field is editable.
        return request.user.has_perm("receivers.change_deadletterevent")

    has_resolve_permission = has_requeue_permission

    @admin.display(description="original message")
    def original_message_pretty(self, obj: DeadLetterEvent) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.pretty_original_message())

    @admin.action(description="Requeue to the source queue", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset) -> None:
        requeued, skipped = 0, []
        who = request.user.get_username()
        for dead_letter in queryset:
            if dead_letter.source_queue not in QUEUES or dead_letter.original_message_truncated:
                skipped.append(dead_letter.id)
                continue
            # Claim the row first: of two submits only one wins, and a crash before the send leaves a
            # row marked requeued that an operator can see, never a second copy on the queue.
            when = timezone.now()
            if not dead_letter.mark_requeued(who=who, when=when):
                skipped.append(dead_letter.id)
                continue
            try:
                send_text(dead_letter.source_queue, dead_letter.original_message)
            except AzureError as error:
                dead_letter.undo_requeue(who=who, when=when)
                self.message_user(request, f"Queue error, stopped requeueing: {error}", messages.ERROR)
                break
            delete_dead_letter_message(dead_letter.queue_message_id, dead_letter.pop_receipt)
            self.log_change(request, dead_letter, f"Requeued to {dead_letter.source_queue}")
            requeued += 1
        self.message_user(request, f"Requeued {requeued} dead letter(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Skipped {len(skipped)} (not new, unknown source queue or truncated): {', '.join(skipped[:10])}",
                messages.WARNING,
            )

    @admin.action(description="Resolve with a note", permissions=["resolve"])
    def resolve(self, request: HttpRequest, queryset):
        if "apply" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": "Resolve dead letters",
                "queryset": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/receivers/deadletterevent/resolve.html", context)
        note = request.POST.get("note", "").strip()
        if not note:
            self.message_user(request, "A note is required to resolve dead letters.", messages.ERROR)
            return None
        resolved = 0
        for dead_letter in queryset:
            if dead_letter.mark_resolved(who=request.user.get_username(), when=timezone.now(), note=note):
                delete_dead_letter_message(dead_letter.queue_message_id, dead_letter.pop_receipt)
                self.log_change(request, dead_letter, f"Resolved: {note}")
                resolved += 1
        self.message_user(request, f"Resolved {resolved} dead letter(s).", messages.SUCCESS)
        return None


@admin.register(ReceiverCommand)
class ReceiverCommandAdmin(ReadOnlyAdmin):
    list_display = ("sent_at", "command", "target", "sent_by", "origin")
    list_filter = ("command", "deployment_version", "origin")
    date_hierarchy = "sent_at"
    change_list_template = "admin/receivers/receivercommand/change_list.html"

    @admin.display(description="target")
    def target(self, obj: ReceiverCommand) -> str:
        return obj.deployment_version or "every version"

    def get_urls(self):
        status_view = self.admin_site.admin_view(self.receivers_status)
        return [path("status/", status_view, name="receivers_receivercommand_status"), *super().get_urls()]

    def receivers_status(self, request: HttpRequest):
        """Every process and receiver with its status and age; POST sends START/STOP to a version."""
        if request.method == "POST":
            return self.send_from_status_page(request)
        error, processes = None, []
        try:
            processes = [self.describe(document) for document in read_statuses()]
        except redis.exceptions.RedisError as exception:
            error = f"Redis cannot be read: {exception}"
        context = {
            **self.admin_site.each_context(request),
            "title": "Receiver status",
            "opts": self.model._meta,
            "processes": processes,
            "versions": VERSIONS,
            "error": error,
        }
        return TemplateResponse(request, "admin/receivers/receivercommand/status.html", context)

    @staticmethod
    def describe(document: dict) -> dict:
        queried_at = parse_datetime(document.get("queriedAt") or "")
        age = (timezone.now() - queried_at).total_seconds() if queried_at else None
        return {**document, "age_seconds": None if age is None else round(age)}

    def send_from_status_page(self, request: HttpRequest):
        if not request.user.has_perm("receivers.add_receivercommand"):
            self.message_user(request, "You may not send receiver commands.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:receivers_receivercommand_status"))
        command, version = request.POST.get("command"), request.POST.get("version") or None
        try:
            record = send_command(command, version, request.user.get_username(), ReceiverCommand.Origin.ADMIN)
        except ValueError:
            self.message_user(request, "Unknown command or version.", messages.ERROR)
        except redis.exceptions.RedisError as error:
            self.message_user(request, f"Redis refused the command: {error}", messages.ERROR)
        except DatabaseError as error:
            logger.exception("receiver command %s for %s was published but cannot be recorded", command, version)
            self.message_user(request, f"Sent {command}, but it could not be recorded: {error}", messages.WARNING)
        else:
            self.log_addition(request, record, f"Sent {command} to {version or 'every version'}")
            self.message_user(request, f"Sent {command} to {version or 'every version'}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:receivers_receivercommand_status"))


from receivers import admin_outbox  # noqa: E402,F401 - registers the outbox's admin page
