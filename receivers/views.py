"""The receiver control API of the reference service (spec Part B §9), behind the x-api-key middleware."""

from __future__ import annotations

import logging

import redis
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dispatcher_site.api_keys import api_key_name
from dispatcher_site.json_bodies import parse_json
from dispatcher_site.problems import problem
from receivers.control import COMMANDS, VERSIONS, read_statuses, send_command
from receivers.models import ReceiverCommand

logger = logging.getLogger(__name__)

BAD_REQUEST = {"title": "Bad request", "status": 400, "detail": "Input request is invalid."}
NOT_FOUND = {"title": "Not found", "status": 404, "detail": "No data found for receiver statuses"}
SERVER_ERROR = {
    "title": "Internal Server Error",
    "status": 500,
    "detail": "An unexpected error occurred processing the request",
}


def reference_problem(body: dict) -> JsonResponse:
    """One of the reference's fixed problem documents above."""
    return problem(**body)


def parse_command(body: bytes) -> tuple[str, str | None] | None:
    """(command, deploymentVersion) of a valid request body, else None."""
    try:
        document = parse_json(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or set(document) - {"command", "deploymentVersion"}:
        return None
    command, version = document.get("command"), document.get("deploymentVersion")
    if command not in COMMANDS or (version is not None and version not in VERSIONS):
        return None
    return command, version


@csrf_exempt
@require_POST
def commands(request: HttpRequest) -> HttpResponse:
    parsed = parse_command(request.body)
    if parsed is None:
        return reference_problem(BAD_REQUEST)
    command, version = parsed
    # The middleware let the request in, so the header holds one of the keys; record which one.
    sent_by = f"api key ({api_key_name(request.headers.get('x-api-key', '')) or 'unknown'})"
    try:
        send_command(command, version, sent_by=sent_by, origin=ReceiverCommand.Origin.API)
    except redis.exceptions.RedisError:
        logger.exception("cannot publish receiver command %s", command)
        return reference_problem(SERVER_ERROR)
    except DatabaseError:
        logger.exception("receiver command %s for %s was published but cannot be recorded", command, version)
        return reference_problem(SERVER_ERROR)
    return HttpResponse(status=202)


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    version = request.GET.get("version")
    if version is not None and version not in VERSIONS:
        return reference_problem(BAD_REQUEST)
    try:
        documents = read_statuses(version)
    except redis.exceptions.RedisError:
        logger.exception("cannot read receiver statuses")
        return reference_problem(SERVER_ERROR)
    if not documents:
        return reference_problem(NOT_FOUND)
    return JsonResponse(
        {
            "status": [
                {
                    "instanceId": document.get("consumerInstanceId"),
                    "deploymentVersion": document.get("version"),
                    "receiverStatuses": document.get("receiverStatuses", []),
                }
                for document in documents
            ]
        }
    )
