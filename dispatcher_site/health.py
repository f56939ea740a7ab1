"""Liveness (the process answers) and readiness (its database, Redis and queue service answer; the outbox
backlog is reported beside them)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis
from azure.storage.queue import QueueServiceClient
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from receivers.relay import outbox_backlog


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


def outbox_status() -> dict[str, object]:
    """The outbox backlog (spec Part A §11): DEGRADED when a row waits too long. It does not fail
    readiness: web processes serve regardless, and consumers relay the rows."""
    try:
        return outbox_backlog().as_dict()
    except DatabaseError as error:
        return {"status": "UNKNOWN", "error": type(error).__name__}
    finally:
        connection.close()


@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    # The checks run side by side so a slow dependency costs one timeout, not three.
    with ThreadPoolExecutor(max_workers=len(READINESS_CHECKS) + 1) as pool:
        futures = {name: pool.submit(_run_check, check) for name, check in READINESS_CHECKS.items()}
        outbox = pool.submit(outbox_status)
    results = {name: future.result() for name, future in futures.items()}
    failed = sorted(name for name, result in results.items() if result != "up")
    body = {"status": "DOWN" if failed else "UP", "checks": results, "outbox": outbox.result()}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
