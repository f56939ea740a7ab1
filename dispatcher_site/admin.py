"""Admin building blocks shared by the apps: the read-only admin, times shown in one named zone, ages."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records only the service writes (events, dead letters, statistics): nobody adds, edits or
    deletes them by hand; operator actions are admin actions that record who did what."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def console_zone() -> zoneinfo.ZoneInfo:
    """The one time zone the admin shows times in (CONSOLE_TIME_ZONE)."""
    return zoneinfo.ZoneInfo(settings.DISPATCHER.CONSOLE_TIME_ZONE)


def local_time(moment: datetime | None, seconds: bool = True) -> str:
    """`2026-11-27 15:03:12 CET`: the moment in the console's zone, with the zone's name."""
    if moment is None:
        return "-"
    local = moment.astimezone(console_zone())
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def duration(span: timedelta | float | None) -> str:
    """A short human duration: `45 s`, `12 min`, `3 h 05 min`, `2 d 4 h`."""
    if span is None:
        return "-"
    seconds = int(span.total_seconds() if isinstance(span, timedelta) else span)
    if seconds < 90:
        return f"{max(seconds, 0)} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def age(moment: datetime | None) -> str:
    """How long ago the moment was, as `duration` writes it."""
    return "-" if moment is None else duration(timezone.now() - moment)
