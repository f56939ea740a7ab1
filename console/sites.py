"""The admin site of the operator console (issue 13): Django's admin with a dashboard for an index.

1. The index shows the dashboard (`console.dashboard`) above the usual list of apps; the page reads
   the dashboard fragment again every CONSOLE_REFRESH_SECONDS and says when it was last read.
2. Every admin page is rendered in CONSOLE_TIME_ZONE, so list filters, dates and times agree.
3. Pages that are not a model's changelist are listed with the models, in the index and the sidebar:
   the dashboard and the queues under "Operator console", receiver status under "Receivers".
4. A queue page shows one queue's figures and the messages visible on it (the list behind them).
"""

from __future__ import annotations

from functools import wraps

from azure.core.exceptions import AzureError
from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone

from console.dashboard import Dashboard, read_dashboard
from console.presentation import dashboard_view
from dispatcher_site.admin import console_zone
from dispatcher_site.pii import mask_text
from receivers.backlog import peek
from receivers.queues import QUEUES


class ConsoleAdminSite(admin.AdminSite):
    site_header = "event-dispatcher operator console"
    site_title = "event-dispatcher console"
    index_title = "Dashboard"
    index_template = "console/index.html"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def in_console_time_zone(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            # Rendered here, inside the zone: a TemplateResponse would otherwise render after we return.
            with timezone.override(console_zone()):
                response = inner(request, *args, **kwargs)
                if isinstance(response, TemplateResponse) and not response.is_rendered:
                    response.render()
            return response

        return in_console_time_zone

    def get_urls(self):
        return [
            path("console/dashboard/", self.admin_view(self.dashboard_fragment), name="console_dashboard"),
            path("console/queues/<str:key>/", self.admin_view(self.queue_page), name="console_queue"),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context=None):
        context = {**dashboard_context(read_dashboard()), **(extra_context or {})}
        return super().index(request, context)

    def dashboard_fragment(self, request: HttpRequest):
        return TemplateResponse(request, "console/dashboard.html", dashboard_context(read_dashboard()))

    def queue_page(self, request: HttpRequest, key: str):
        if key not in QUEUES:
            raise Http404(f"no queue {key}")
        dashboard = read_dashboard()
        figures = next(figures for figures in dashboard.queues if figures.key == key)
        error, messages = "", []
        try:
            messages = [(message, mask_text(message.text)) for message in peek(key)]
        except AzureError as exception:
            error = f"{type(exception).__name__}: {exception}"
        context = {
            **self.each_context(request),
            **dashboard_context(dashboard),
            "title": f"Queue {key}",
            "queue": figures,
            "messages": messages,
            "peek_error": error,
        }
        return TemplateResponse(request, "console/queue.html", context)

    def get_app_list(self, request: HttpRequest, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label in (None, "receivers"):
            receivers = next((app for app in apps if app["app_label"] == "receivers"), None)
            if receivers is not None and request.user.has_perm("receivers.view_receivercommand"):
                receivers["models"].insert(
                    0, page_entry("Receiver status, start and stop", "receivers_receivercommand_status")
                )
        if app_label in (None, "console"):
            console = {
                "name": "Operator console",
                "app_label": "console",
                "app_url": reverse("admin:index"),
                "has_module_perms": True,
                "models": [page_entry("Dashboard: queues, dead letters, stuck payments, receivers", "index")],
            }
            apps.insert(0, console)
        return apps


def page_entry(title: str, url_name: str, *args) -> dict:
    """An app-list row for a page that is not a model (the sidebar and the index show it as a link)."""
    try:
        url = reverse(f"admin:{url_name}", args=args)
    except NoReverseMatch:
        url = None
    return {
        "name": title,
        "object_name": title.replace(" ", ""),
        "admin_url": url,
        "add_url": None,
        "view_only": True,
        "perms": {"view": True},
        "model": None,
    }


def dashboard_context(dashboard: Dashboard) -> dict:
    return {
        "dashboard": dashboard,
        "board": dashboard_view(dashboard),
        "refresh_seconds": settings.DISPATCHER.CONSOLE_REFRESH_SECONDS,
        "console_zone": str(console_zone()),
    }
