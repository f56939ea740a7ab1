"""The dashboard as rows of cells, each figure with the link to the list behind it (issue 13, Deliver 1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.urls import reverse

from console.dashboard import Dashboard, QueueFigures
from dispatcher_site.admin import duration, local_time
from receivers.activity import OUTCOMES, WINDOWS_MINUTES

# A visible message older than this has waited longer than any consumer should let it.
OLD_MESSAGE_SECONDS = 300


@dataclass(frozen=True)
class Cell:
    text: str
    url: str = ""
    alert: bool = False
    title: str = ""


def changelist(model: str, **filters) -> str:
    url = reverse(f"admin:{model}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def receivers_page(**filters) -> str:
    url = reverse("admin:receivers_receivercommand_status")
    return f"{url}?{urlencode(filters)}" if filters else url


def queue_row(figures: QueueFigures, dashboard: Dashboard) -> dict:
    key, backlog = figures.key, figures.backlog
    queue_url = reverse("admin:console_queue", args=[key])
    row = {"key": key, "name": backlog.name, "url": queue_url, "error": backlog.error, "cells": []}
    cells = row["cells"]
    if backlog.error:
        cells += [Cell("?", queue_url, True, backlog.error), Cell("?", queue_url, True, backlog.error)]
    else:
        age = backlog.oldest_visible_age_seconds
        cells.append(Cell(str(backlog.backlog), queue_url, title="approximate count, visible and hidden"))
        cells.append(
            Cell("-" if age is None else duration(age), queue_url, age is not None and age > OLD_MESSAGE_SECONDS)
        )
    for outcome in OUTCOMES:
        for window in WINDOWS_MINUTES:
            cells.append(activity_cell(figures, dashboard, outcome, window, queue_url))
    cells.append(Cell(str(figures.consumers), receivers_page(queue=key), figures.consumers == 0 and key != "probe"))
    return row


def activity_cell(figures: QueueFigures, dashboard: Dashboard, outcome: str, window: int, queue_url: str) -> Cell:
    if figures.activity is None:
        return Cell("?", queue_url, True, "consumer activity cannot be read")
    rate = figures.activity.per_minute(window, outcome)
    total = figures.activity.total(window, outcome)
    url = queue_url
    if outcome == "dead_lettered":
        since = dashboard.read_at - timedelta(minutes=window)
        url = changelist(
            "receivers_deadletterevent", source_queue__exact=figures.key, dead_lettered_at__gte=since.isoformat()
        )
    alert = outcome != "processed" and total > 0
    return Cell(f"{rate:.2f}", url, alert, f"{total} in the last {window} min")


def dashboard_view(dashboard: Dashboard) -> dict:
    """Everything the dashboard template shows, links included."""
    stuck_url = changelist("transactions_transaction", stuck=dashboard.stuck_minutes)
    return {
        "read_at": local_time(dashboard.read_at),
        "outcome_columns": [outcome.replace("_", "-") for outcome in OUTCOMES],
        "window_columns": [f"{window} min" for _ in OUTCOMES for window in WINDOWS_MINUTES],
        "window_count": len(WINDOWS_MINUTES),
        "queues": [queue_row(figures, dashboard) for figures in dashboard.queues],
        "dead_letters": [
            Cell(
                f"{category}: {count}",
                changelist(
                    "receivers_deadletterevent",
                    state__exact="NEW",
                    category__exact="" if category == "(none)" else category,
                ),
                count > 0,
            )
            for category, count in dashboard.new_dead_letters.items()
        ],
        "dead_letters_total": Cell(
            str(dashboard.new_dead_letters_total),
            changelist("receivers_deadletterevent", state__exact="NEW"),
            dashboard.new_dead_letters_total > 0,
        ),
        "stuck_total": Cell(str(dashboard.stuck_total), stuck_url, dashboard.stuck_total > 0),
        "stuck": [
            Cell(f"{status}: {count}", f"{stuck_url}&{urlencode({'status__exact': status})}", True)
            for status, count in dashboard.stuck_by_status.items()
        ],
        "stuck_minutes": dashboard.stuck_minutes,
        "versions": [
            {
                "version": version,
                "url": receivers_page(version=version),
                "live": figures.live_processes,
                "gone": figures.gone_processes,
                "receivers": [(state, count) for state, count in figures.receivers.items() if count],
            }
            for version, figures in dashboard.versions.items()
        ],
        "errors": dashboard.errors,
    }
