"""Liveness (the process answers) and readiness (its database, Redis and queue service answer; what apps
register is reported beside them: the receivers app its outbox backlog, the notifications app its
providers)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis
from azure.storage.queue import QueueServiceClient
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


def check_database() -> None:
    # Runs on a pool thread, which gets its own connection: close it rather than leak one per probe.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def check_redis() -> None:
    config = settings.DISPATCHER
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=config.HEALTH_CHECK_TIMEOUT_SECONDS,
        socket_timeout=config.HEALTH_CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_queue_service() -> None:
    _check_storage_account(settings.DISPATCHER.QUEUE_TRANSIENT_CONNECTION_STRING)


def check_dead_letter_queue_service() -> None:
    _check_storage_account(settings.DISPATCHER.QUEUE_DEADLETTER_CONNECTION_STRING)


def _check_storage_account(connection_string: str) -> None:
    timeout = settings.DISPATCHER.HEALTH_CHECK_TIMEOUT_SECONDS
    service = QueueServiceClient.from_connection_string(
        connection_string,
        connection_timeout=timeout,
        read_timeout=timeout,
        retry_total=0,
    )
    with service:
        service.get_service_properties(timeout=max(1, int(timeout)))


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "queue_service": check_queue_service,
    "dead_letter_queue_service": check_dead_letter_queue_service,
}


def _run_check(check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as error:  # noqa: BLE001 - a failed dependency is reported, not raised
        return f"down: {type(error).__name__}"
    return "up"


@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "UP"})


# Reports shown beside the checks, each under its own key; they describe and never fail readiness.
# Apps add theirs with `register_readiness_report` when they start.
READINESS_REPORTS: dict[str, Callable[[], dict[str, object]]] = {}


def register_readiness_report(name: str, report: Callable[[], dict[str, object]]) -> None:
    READINESS_REPORTS[name] = report


@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    # The checks run side by side so a slow dependency costs one timeout, not three.
    with ThreadPoolExecutor(max_workers=len(READINESS_CHECKS) + len(READINESS_REPORTS)) as pool:
        futures = {name: pool.submit(_run_check, check) for name, check in READINESS_CHECKS.items()}
        reports = {name: pool.submit(report) for name, report in READINESS_REPORTS.items()}
    results = {name: future.result() for name, future in futures.items()}
    failed = sorted(name for name, result in results.items() if result != "up")
    body = {"status": "DOWN" if failed else "UP", "checks": results}
    body |= {name: future.result() for name, future in reports.items()}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
