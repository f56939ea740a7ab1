"""The providers' part of `/health/readiness` (spec notifications.md Part A §7), under `providers`.

For each notification type, the active providers in the order sends use them, each saying whether its
variables are set. DEGRADED (readiness itself stays up: the web serves, messages wait on their
queues) when a type has no active provider, so its notifications wait, or when an active provider is
not configured and not simulated, so its attempts fail over or fail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection

from dispatcher_site.health import register_readiness_report
from notifications.models import NOTIFICATION_TYPES, Provider
from notifications.sending import PROVIDER_CLIENTS


def providers_status() -> dict[str, object]:
    try:
        return _providers_status()
    except DatabaseError as error:
        return {"status": "UNKNOWN", "error": type(error).__name__}
    finally:
        connection.close()  # a readiness pool thread's own connection


def _providers_status() -> dict[str, object]:
    simulated = settings.DISPATCHER.SIMULATE_UNCONFIGURED_PROVIDERS
    report: dict[str, object] = {}
    problems: list[str] = []
    for notification_type in NOTIFICATION_TYPES:
        clients = PROVIDER_CLIENTS[notification_type]
        active = [p for p in Provider.active_identifiers(notification_type) if p in clients]
        report[notification_type] = [{"provider": p, "configured": clients[p].configured()} for p in active]
        if not active:
            problems.append(f"no active {notification_type} provider: {notification_type} notifications wait")
        problems += [
            f"{p} is active but not configured" for p in active if not clients[p].configured() and not simulated
        ]
    return {"status": "DEGRADED" if problems else "UP", **report, "problems": problems, "simulation": simulated}


register_readiness_report("providers", providers_status)
