"""The v2 API that GOV.UK Notify's official clients speak: send SMS and e-mail, read notifications.

Errors use Notify's v2 format, `{"status_code": n, "errors": [{"error": <kind>, "message": <text>}]}`.
A created notification is committed with its delivery message (`notifications.delivery`); the send
queues' consumers hand it to a provider (`notifications.sending`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dispatcher_site.error_formats import ErrorFormat
from dispatcher_site.json_bodies import UnacceptableJson, parse_json
from notifications import delivery
from notifications.models import (
    EMAIL,
    FAILED,
    FAILURE_STATUSES,
    NOTIFICATION_STATUSES,
    NOTIFICATION_TYPES,
    SMS,
    UPDATABLE_STATUSES,
    ApiKey,
    Notification,
)
from notifications.v2_auth import AuthError, authenticate

PAGE_SIZE = 250
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
RECIPIENT_FIELD = {SMS: "phone_number", EMAIL: "email_address"}
_EMAIL_ADDRESS = re.compile(r"^[^\s@\"(),:;<>\[\\\]]+@([a-z0-9-]+\.)+[a-z0-9-]{2,}$", re.IGNORECASE)
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


class ApiError(Exception):
    def __init__(self, status: int, kind: str, *messages: str):
        super().__init__(messages)
        self.status, self.kind, self.messages = status, kind, messages


def error_response(status: int, kind: str, messages: tuple[str, ...]) -> JsonResponse:
    errors = [{"error": kind, "message": message} for message in messages]
    return JsonResponse({"status_code": status, "errors": errors}, status=status)


# Notify's own kinds where it has one; otherwise the HTTP status, e.g. NotFound or MethodNotAllowed.
ERROR_KINDS = {400: "BadRequestError", 401: "AuthError", 403: "AuthError"}


def error_kind(status: int) -> str:
    return ERROR_KINDS.get(status) or HTTPStatus(status).phrase.replace(" ", "")


ERROR_FORMAT = ErrorFormat(
    "notify-v2", lambda status, message: error_response(status, error_kind(status), (message,)), "Internal server error"
)


def notify_api(view: Callable) -> Callable:
    """Authenticates the caller and turns ApiError/AuthError into Notify's error format."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            api_key = authenticate(request)
            return view(request, api_key, *args, **kwargs)
        except AuthError as error:
            return error_response(error.status, "AuthError", (error.message,))
        except ApiError as error:
            return error_response(error.status, error.kind, error.messages)

    return csrf_exempt(wrapper)


def phone_number_problem(number: str) -> str | None:
    digits = _PHONE_PUNCTUATION.sub("", number).removeprefix("+")
    if not digits.isdigit():
        return "phone_number Must not contain letters or symbols"
    if len(digits) < 8:
        return "phone_number Not enough digits"
    if len(digits) > 15:
        return "phone_number Too many digits"
    return None


def recipient_problem(notification_type: str, recipient: str) -> str | None:
    if notification_type == SMS:
        return phone_number_problem(recipient)
    return None if _EMAIL_ADDRESS.match(recipient) else "email_address Not a valid email address"


def parse_post(request: HttpRequest, notification_type: str) -> dict:
    try:
        data = parse_json(request.body)
    except UnacceptableJson as error:
        raise ApiError(400, "BadRequestError", str(error)) from None
    except ValueError:
        raise ApiError(400, "BadRequestError", "Invalid JSON supplied in POST data") from None
    if not isinstance(data, dict):
        raise ApiError(400, "ValidationError", f"{data!r} is not of type object")
    recipient_field = RECIPIENT_FIELD[notification_type]
    problems = [f"{field} is a required property" for field in (recipient_field, "template_id") if field not in data]
    recipient = data.get(recipient_field)
    if recipient_field in data:
        if not isinstance(recipient, str):
            problems.append(f"{recipient_field} {recipient!r} is not of type string")
        elif problem := recipient_problem(notification_type, recipient.strip()):
            problems.append(problem)
    if "template_id" in data and not _is_uuid(data["template_id"]):
        problems.append("template_id is not a valid UUID")
    if not isinstance(data.get("personalisation", {}), dict):
        problems.append(f"personalisation {data['personalisation']!r} is not of type object")
    if data.get("reference") is not None and not isinstance(data["reference"], str):
        problems.append(f"reference {data['reference']!r} is not of type string")
    if problems:
        raise ApiError(400, "ValidationError", *problems)
    return data


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def template_for(api_key: ApiKey, template_id: str, notification_type: str):
    # Receipt templates are POST /emails's own (rendered from files), never offered here.
    template = api_key.service.templates.filter(id=template_id, receipt_template_id="").first()
    if template is None:
        raise ApiError(400, "BadRequestError", "Template not found")
    if template.archived:
        raise ApiError(400, "BadRequestError", f"Template {template.id} has been deleted")
    if template.template_type != notification_type:
        raise ApiError(
            400,
            "BadRequestError",
            f"{template.template_type} template is not suitable for {notification_type} notification",
        )
    return template


def template_link(request: HttpRequest, notification: Notification) -> dict:
    return {
        "id": str(notification.template_id),
        "version": notification.template_version,
        "uri": request.build_absolute_uri(f"/services/{notification.service_id}/templates/{notification.template_id}"),
    }


def created_response(request: HttpRequest, notification: Notification) -> dict:
    service = notification.service
    content = {"body": notification.body}
    if notification.notification_type == SMS:
        content["from_number"] = service.sms_sender
    else:
        content["subject"] = notification.subject
        content["from_email"] = service.email_from
    return {
        "id": str(notification.id),
        "reference": notification.client_reference or None,
        "content": content,
        "uri": request.build_absolute_uri(f"/v2/notifications/{notification.id}"),
        "template": template_link(request, notification),
        "scheduled_for": None,
    }


def _timestamp(value) -> str | None:
    return value.strftime(DATETIME_FORMAT) if value else None


def serialize(request: HttpRequest, notification: Notification) -> dict:
    is_sms = notification.notification_type == SMS
    final = notification.status not in UPDATABLE_STATUSES
    return {
        "id": str(notification.id),
        "reference": notification.client_reference or None,
        "email_address": None if is_sms else notification.to,
        "phone_number": notification.to if is_sms else None,
        **{f"line_{n}": None for n in range(1, 7)},
        "postcode": None,
        "postage": None,
        "type": notification.notification_type,
        "status": notification.status,
        "template": template_link(request, notification),
        "body": notification.body,
        "subject": notification.subject or None,
        "created_at": _timestamp(notification.created_at),
        "created_by_name": None,
        "sent_at": _timestamp(notification.sent_at),
        "completed_at": _timestamp(notification.updated_at) if final else None,
        "scheduled_for": None,
        "is_cost_data_ready": notification.sent_at is not None,
        "cost_details": {"billable_sms_fragments": notification.billable_units} if is_sms else {},
    }


def post_notification(request: HttpRequest, api_key: ApiKey, notification_type: str) -> JsonResponse:
    data = parse_post(request, notification_type)
    template = template_for(api_key, data["template_id"], notification_type)
    personalisation = data.get("personalisation") or {}
    missing = template.missing_personalisation(personalisation)
    if missing:
        raise ApiError(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")
    notification = delivery.create_notification(
        template,
        to=data[RECIPIENT_FIELD[notification_type]].strip(),
        personalisation=personalisation,
        api_key=api_key,
        client_reference=data.get("reference"),
    )
    notification.service = api_key.service
    return JsonResponse(created_response(request, notification), status=201)


@require_POST
@notify_api
def post_sms_notification(request: HttpRequest, api_key: ApiKey) -> JsonResponse:
    return post_notification(request, api_key, SMS)


@require_POST
@notify_api
def post_email_notification(request: HttpRequest, api_key: ApiKey) -> JsonResponse:
    return post_notification(request, api_key, EMAIL)


@require_GET
@notify_api
def get_notification_by_id(request: HttpRequest, api_key: ApiKey, notification_id: str) -> JsonResponse:
    if not _is_uuid(notification_id):
        raise ApiError(400, "ValidationError", "notification_id is not a valid UUID")
    notification = Notification.objects.filter(id=notification_id, service=api_key.service).first()
    if notification is None:
        raise ApiError(404, "NoResultFound", "No result found")
    return JsonResponse(serialize(request, notification))


def _statuses(requested: list[str]) -> list[str]:
    unknown = [s for s in requested if s not in NOTIFICATION_STATUSES]
    if unknown:
        raise ApiError(
            400, "ValidationError", *(f"status {s} is not one of [{', '.join(NOTIFICATION_STATUSES)}]" for s in unknown)
        )
    # `failed` asks for every kind of failure, as in Notify's v2 API.
    return sorted({*requested, *(FAILURE_STATUSES if FAILED in requested else ())})


def _template_types(requested: list[str]) -> list[str]:
    unknown = [t for t in requested if t not in NOTIFICATION_TYPES]
    if unknown:
        raise ApiError(
            400,
            "ValidationError",
            *(f"template_type {t} is not one of [{', '.join(NOTIFICATION_TYPES)}]" for t in unknown),
        )
    return requested


def filtered_notifications(api_key: ApiKey, query) -> list[Notification]:
    notifications = Notification.objects.filter(service=api_key.service)
    if statuses := _statuses(query.getlist("status")):
        notifications = notifications.filter(status__in=statuses)
    if template_types := _template_types(query.getlist("template_type")):
        notifications = notifications.filter(notification_type__in=template_types)
    if reference := query.get("reference"):
        notifications = notifications.filter(client_reference=reference)
    if (older_than := query.get("older_than")) is not None:
        if not _is_uuid(older_than):
            raise ApiError(400, "ValidationError", "older_than is not a valid UUID")
        anchor = Notification.objects.filter(id=older_than, service=api_key.service).first()
        if anchor is None:
            return []
        notifications = notifications.filter(
            Q(created_at__lt=anchor.created_at) | Q(created_at=anchor.created_at, id__lt=anchor.id)
        )
    return list(notifications.order_by("-created_at", "-id")[:PAGE_SIZE])


@require_GET
@notify_api
def get_notifications(request: HttpRequest, api_key: ApiKey) -> JsonResponse:
    notifications = filtered_notifications(api_key, request.GET)
    query = {k: request.GET.getlist(k) for k in ("status", "template_type", "reference", "older_than", "include_jobs")}
    query = {k: v for k, v in query.items() if v}

    def link(params: dict) -> str:
        encoded = urlencode(params, doseq=True)
        return request.build_absolute_uri("/v2/notifications" + (f"?{encoded}" if encoded else ""))

    links = {"current": link(query)}
    if notifications:
        links["next"] = link({**query, "older_than": [str(notifications[-1].id)]})
    return JsonResponse({"notifications": [serialize(request, n) for n in notifications], "links": links})
