"""Admin pages of the receivers app: dead letters (requeue, resolve) and receiver control (start, stop).

1. Dead letters are read-only records. Requeue and resolve are offered on the list (admin actions) and
   on each dead letter's page, and always pass through a confirmation page that names what will happen
   (requeuing an EVENT_PARSING_ERROR warns that it will fail to parse again). Every action records who
   and when, on the row and in the admin's history (LogEntry). Nothing is deleted from here.
2. Original messages and error texts are shown with e-mail addresses and phone numbers masked.
3. The receiver status page lists every process and receiver with its state (running, stopped by
   command, draining with its in-flight count, exited, not responding, gone with its last-seen time)
   and sends START/STOP per version; for PROD it first asks, naming the processes it will act on.
"""

from __future__ import annotations

import logging

import redis
from azure.core.exceptions import AzureError
from django.contrib import admin, messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from dispatcher_site.admin import ReadOnlyAdmin, age, local_time
from dispatcher_site.pii import mask_text
from receivers.control import VERSIONS, send_command
from receivers.dead_letters import delete_dead_letter_message
from receivers.handlers import DeadLetterCategory
from receivers.models import DeadLetterEvent, ReceiverCommand
from receivers.queues import QUEUES, send_text
from receivers.receiver_states import RUNNING, process_states
from receivers.relay import outbox_backlog

logger = logging.getLogger(__name__)

# Versions whose START/STOP is confirmed first: stopping production by a slip of the mouse is an incident.
CONFIRMED_VERSIONS = ("PROD",)


def transaction_url(transaction_id: str) -> str | None:
    """The transaction's admin page. By URL name: the receivers app does not import the transactions app."""
    if not transaction_id:
        return None
    try:
        return reverse("admin:transactions_transaction_change", args=[transaction_id])
    except NoReverseMatch:
        return None


def dead_letter_link(dead_letter: DeadLetterEvent | None) -> str:
    if dead_letter is None:
        return "-"
    url = reverse("admin:receivers_deadletterevent_change", args=[dead_letter.pk])
    return format_html(
        '<a href="{}">{} · {} · {}</a>',
        url,
        local_time(dead_letter.dead_lettered_at),
        dead_letter.category or "no category",
        dead_letter.get_state_display(),
    )


@admin.register(DeadLetterEvent)
class DeadLetterEventAdmin(ReadOnlyAdmin):
    # Queue under category and event under transaction: every column that matters fits a laptop screen
    # beside the sidebar and the filters.
    list_display = ("when_short", "category_and_queue", "transaction_and_event", "state", "first_error_line")
    list_display_links = ("when_short",)
    list_filter = ("state", "category", "source_queue", "dead_lettered_at")
    search_fields = ("transaction_id", "=id")
    search_help_text = "Part of a transaction id (e.g. its first 8 characters), or a dead letter's exact id."
    date_hierarchy = "dead_lettered_at"
    actions = ["requeue", "resolve"]
    change_form_template = "admin/receivers/deadletterevent/change_form.html"

    class Media:
        css = {"all": ("dispatcher_site/console.css",)}

    fields = (
        "id",
        "category",
        "source_queue",
        "transaction",
        "event_code",
        "error_masked",
        "dequeue_count",
        "when",
        "stored",
        "state",
        "requeued_at",
        "requeued_by",
        "resolved_at",
        "resolved_by",
        "resolution_note",
        "predecessor_link",
        "successors_links",
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

    @admin.display(description="dead-lettered", ordering="dead_lettered_at")
    def when(self, obj: DeadLetterEvent) -> str:
        return local_time(obj.dead_lettered_at)

    @admin.display(description="dead-lettered", ordering="dead_lettered_at")
    def when_short(self, obj: DeadLetterEvent) -> str:
        return local_time(obj.dead_lettered_at, seconds=False)

    @admin.display(description="stored")
    def stored(self, obj: DeadLetterEvent) -> str:
        return local_time(obj.stored_at)

    @admin.display(description="transaction", ordering="transaction_id")
    def transaction(self, obj: DeadLetterEvent) -> str:
        url = transaction_url(obj.transaction_id)
        return format_html('<a href="{}">{}</a>', url, obj.transaction_id) if url else obj.transaction_id or "-"

    @admin.display(description="category / queue", ordering="category")
    def category_and_queue(self, obj: DeadLetterEvent) -> str:
        return format_html(
            '{}<br><span class="console-quiet">from {}</span>', obj.category or "no category", obj.source_queue or "?"
        )

    @admin.display(description="transaction / event", ordering="transaction_id")
    def transaction_and_event(self, obj: DeadLetterEvent) -> str:
        """The transaction's first 12 characters (whole in the tooltip and on the page) and the event code
        without its TRANSACTION_ and _EVENT affixes."""
        url = transaction_url(obj.transaction_id)
        shown = f"{obj.transaction_id[:12]}…" if obj.transaction_id else "-"
        transaction = format_html('<a href="{}" title="{}">{}</a>', url, obj.transaction_id, shown) if url else shown
        event = obj.event_code.removeprefix("TRANSACTION_").removesuffix("_EVENT") or "-"
        return format_html('{}<br><span class="console-quiet" title="{}">{}</span>', transaction, obj.event_code, event)

    @admin.display(description="error")
    def first_error_line(self, obj: DeadLetterEvent) -> str:
        first = mask_text(obj.error.strip().splitlines()[0]) if obj.error.strip() else ""
        return format_html('<span class="console-first-line" title="{}">{}</span>', first, first)

    @admin.display(description="error")
    def error_masked(self, obj: DeadLetterEvent) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_text(obj.error))

    @admin.display(description="original message (e-mail addresses and phone numbers masked)")
    def original_message_pretty(self, obj: DeadLetterEvent) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_text(obj.pretty_original_message()))

    @admin.display(description="earlier dead letter of the same message")
    def predecessor_link(self, obj: DeadLetterEvent) -> str:
        return dead_letter_link(obj.predecessor)

    @admin.display(description="dead-lettered again after requeue as")
    def successors_links(self, obj: DeadLetterEvent) -> str:
        successors = list(obj.successors.order_by("dead_lettered_at"))
        if not successors:
            return "-"
        return format_html_join(mark_safe("<br>"), "{}", ((dead_letter_link(s),) for s in successors))

    def get_urls(self):
        return [
            path(
                "<path:object_id>/requeue/",
                self.admin_site.admin_view(self.requeue_one),
                name="receivers_deadletterevent_requeue",
            ),
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_one),
                name="receivers_deadletterevent_resolve",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_act": self.has_requeue_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Requeue to the source queue…", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset):
        if request.POST.get("confirm") != "yes":
            return self.requeue_confirmation(request, list(queryset), from_list=True)
        self.requeue_dead_letters(request, queryset)
        return None

    @admin.action(description="Resolve with a note…", permissions=["resolve"])
    def resolve(self, request: HttpRequest, queryset):
        if "apply" not in request.POST:
            return self.resolve_form(request, list(queryset), from_list=True)
        self.resolve_dead_letters(request, queryset, request.POST.get("note", "").strip())
        return None

    def requeue_one(self, request: HttpRequest, object_id: str):
        dead_letter = get_object_or_404(DeadLetterEvent, pk=object_id)
        change_url = reverse("admin:receivers_deadletterevent_change", args=[dead_letter.pk])
        if not self.has_requeue_permission(request):
            self.message_user(request, "You may not requeue dead letters.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        if request.method != "POST" or request.POST.get("confirm") != "yes":
            return self.requeue_confirmation(request, [dead_letter], from_list=False)
        self.requeue_dead_letters(request, [dead_letter])
        return HttpResponseRedirect(change_url)

    def resolve_one(self, request: HttpRequest, object_id: str):
        dead_letter = get_object_or_404(DeadLetterEvent, pk=object_id)
        change_url = reverse("admin:receivers_deadletterevent_change", args=[dead_letter.pk])
        if not self.has_resolve_permission(request):
            self.message_user(request, "You may not resolve dead letters.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        if request.method != "POST" or "apply" not in request.POST:
            return self.resolve_form(request, [dead_letter], from_list=False)
        if self.resolve_dead_letters(request, [dead_letter], request.POST.get("note", "").strip()):
            return HttpResponseRedirect(change_url)
        return self.resolve_form(request, [dead_letter], from_list=False)

    def requeue_confirmation(self, request: HttpRequest, dead_letters: list[DeadLetterEvent], from_list: bool):
        unparsable = [d for d in dead_letters if d.category == DeadLetterCategory.EVENT_PARSING_ERROR]
        context = {
            **self.admin_site.each_context(request),
            "title": "Requeue dead letters?",
            "dead_letters": dead_letters,
            "unparsable": unparsable,
            "not_new": [d for d in dead_letters if not d.unresolved],
            "opts": self.model._meta,
            "from_list": from_list,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/receivers/deadletterevent/requeue.html", context)

    def resolve_form(self, request: HttpRequest, dead_letters: list[DeadLetterEvent], from_list: bool):
        context = {
            **self.admin_site.each_context(request),
            "title": "Resolve dead letters",
            "queryset": dead_letters,
            "opts": self.model._meta,
            "from_list": from_list,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/receivers/deadletterevent/resolve.html", context)

    def requeue_dead_letters(self, request: HttpRequest, dead_letters) -> int:
        """Send each NEW dead letter's original text back to its source queue; the number requeued."""
        requeued, skipped = 0, []
        who = request.user.get_username()
        for dead_letter in dead_letters:
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
        return requeued

    def resolve_dead_letters(self, request: HttpRequest, dead_letters, note: str) -> bool:
        """Mark each dead letter resolved with the note; False (nothing changed) without a note."""
        if not note:
            self.message_user(request, "A note is required to resolve dead letters.", messages.ERROR)
            return False
        resolved = 0
        for dead_letter in dead_letters:
            if dead_letter.mark_resolved(who=request.user.get_username(), when=timezone.now(), note=note):
                delete_dead_letter_message(dead_letter.queue_message_id, dead_letter.pop_receipt)
                self.log_change(request, dead_letter, f"Resolved: {note}")
                resolved += 1
        self.message_user(request, f"Resolved {resolved} dead letter(s).", messages.SUCCESS)
        return True


@admin.register(ReceiverCommand)
class ReceiverCommandAdmin(ReadOnlyAdmin):
    list_display = ("sent", "command", "target", "sent_by", "origin")
    list_filter = ("command", "deployment_version", "origin")
    date_hierarchy = "sent_at"
    change_list_template = "admin/receivers/receivercommand/change_list.html"

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj: ReceiverCommand) -> str:
        return local_time(obj.sent_at)

    @admin.display(description="target")
    def target(self, obj: ReceiverCommand) -> str:
        return obj.deployment_version or "every version"

    def get_urls(self):
        status_view = self.admin_site.admin_view(self.receivers_status)
        return [path("status/", status_view, name="receivers_receivercommand_status"), *super().get_urls()]

    def receivers_status(self, request: HttpRequest):
        """Every process and receiver with its state; POST sends START/STOP to a version (PROD confirmed)."""
        if request.method == "POST":
            return self.send_from_status_page(request)
        version = request.GET.get("version") if request.GET.get("version") in VERSIONS else None
        queue = request.GET.get("queue") if request.GET.get("queue") in QUEUES else None
        error, processes = None, []
        try:
            processes = process_states(version)
        except redis.exceptions.RedisError as exception:
            error = f"Redis cannot be read: {exception}"
        rows = [self.process_row(process, queue) for process in processes]
        context = {
            **self.admin_site.each_context(request),
            "title": "Receiver status",
            "opts": self.model._meta,
            "processes": [row for row in rows if row["receivers"]],
            "versions": VERSIONS,
            "version": version,
            "queue": queue,
            "error": error,
            "latest_commands": ReceiverCommand.objects.order_by("-sent_at")[:5],
            "outbox": outbox_backlog(),
        }
        return TemplateResponse(request, "admin/receivers/receivercommand/status.html", context)

    @staticmethod
    def process_row(process, queue: str | None) -> dict:
        receivers = [r for r in process.receivers if queue is None or r.queue_key == queue]
        return {
            "process": process,
            "last_seen": local_time(process.last_seen),
            "last_seen_age": age(process.last_seen),
            "receivers": receivers,
        }

    def send_from_status_page(self, request: HttpRequest):
        status_url = reverse("admin:receivers_receivercommand_status")
        if not request.user.has_perm("receivers.add_receivercommand"):
            self.message_user(request, "You may not send receiver commands.", messages.ERROR)
            return HttpResponseRedirect(status_url)
        command, version = request.POST.get("command"), request.POST.get("version") or None
        if version in CONFIRMED_VERSIONS and request.POST.get("confirm") != "yes":
            return self.command_confirmation(request, command, version)
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
        return HttpResponseRedirect(status_url)

    def command_confirmation(self, request: HttpRequest, command: str | None, version: str):
        """What START/STOP of this version will act on, and a button that says so."""
        if command not in ("START", "STOP"):
            self.message_user(request, "Unknown command or version.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:receivers_receivercommand_status"))
        try:
            processes = [p for p in process_states(version) if not p.gone]
        except redis.exceptions.RedisError as exception:
            processes = []
            self.message_user(request, f"Redis cannot be read: {exception}", messages.WARNING)
        running = sum(1 for p in processes for r in p.receivers if r.state == RUNNING)
        receivers = sum(len(p.receivers) for p in processes)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{command.capitalize()} every {version} receiver?",
            "opts": self.model._meta,
            "command": command,
            "version": version,
            "processes": processes,
            "running": running,
            "affected": running if command == "STOP" else receivers - running,
        }
        return TemplateResponse(request, "admin/receivers/receivercommand/confirm.html", context)


from receivers import admin_outbox  # noqa: E402,F401 - registers the outbox's admin page
