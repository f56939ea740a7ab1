"""The messages of the send queues `send-sms` and `send-email` (spec notifications.md Part A §7).

They are v2 QueueEvents like every other message of the runtime (dispatcher.md Part A §4), so parsing,
dead letters, tracing and handled marks work unchanged; the notification's id stands where the
envelope names its subject (`transactionId`), so dead letters and the outbox admin are searched by it.

- `NotificationDeliveryRequestedEvent`: make delivery attempt `data.attempt` (1 for the first);
  `data.failedProvider` names the provider the previous attempt failed through (failover), if any.
- `NotificationSimulatedReceiptEvent`: apply the simulated outcome `data.status` (a test key's receipt).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from notifications.models import EMAIL, SMS
from notifications.providers.simulated import RESPONSES as SIMULATED_RESPONSES
from receivers.outbox import current_trace_context
from receivers.queues import register_queue

SEND_QUEUES = {SMS: "send-sms", EMAIL: "send-email"}
register_queue(SEND_QUEUES[SMS], "NOTIFICATIONS_SEND_SMS_QUEUE_NAME")
register_queue(SEND_QUEUES[EMAIL], "NOTIFICATIONS_SEND_EMAIL_QUEUE_NAME")

EVENT_PACKAGE = "it.pagopa.ecommerce.eventdispatcher.notifications."
DELIVERY_EVENT_CLASS = EVENT_PACKAGE + "NotificationDeliveryRequestedEvent"
DELIVERY_EVENT_CODE = "NOTIFICATION_DELIVERY_REQUESTED_EVENT"
SIMULATED_RECEIPT_EVENT_CLASS = EVENT_PACKAGE + "NotificationSimulatedReceiptEvent"
SIMULATED_RECEIPT_EVENT_CODE = "NOTIFICATION_SIMULATED_RECEIPT_EVENT"
SENDING_EVENT_CLASSES = (DELIVERY_EVENT_CLASS, SIMULATED_RECEIPT_EVENT_CLASS)


@dataclass(frozen=True)
class DeliveryRequest:
    notification_id: uuid.UUID
    attempt: int = 1
    failed_provider: str = ""


@dataclass(frozen=True)
class SimulatedReceiptRequest:
    notification_id: uuid.UUID
    status: str


def _event(event_class: str, event_code: str, notification_id: uuid.UUID, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "_class": event_class,
        "id": str(uuid.uuid4()),
        "transactionId": str(notification_id),
        "creationDate": timezone.now().isoformat(),
        "data": data,
        "eventCode": event_code,
    }


def delivery_event(request: DeliveryRequest) -> dict[str, Any]:
    data = {"attempt": request.attempt, "failedProvider": request.failed_provider or None}
    return _event(DELIVERY_EVENT_CLASS, DELIVERY_EVENT_CODE, request.notification_id, data)


def simulated_receipt_event(request: SimulatedReceiptRequest) -> dict[str, Any]:
    data = {"status": request.status}
    return _event(SIMULATED_RECEIPT_EVENT_CLASS, SIMULATED_RECEIPT_EVENT_CODE, request.notification_id, data)


def parse_sending_event(event: Mapping[str, Any]) -> DeliveryRequest | SimulatedReceiptRequest:
    """The request a send-queue event carries; ValueError (dead-lettered as EVENT_PARSING_ERROR) if malformed."""
    notification_id = uuid.UUID(event["transactionId"])
    data = event["data"] or {}
    if event["_class"] == SIMULATED_RECEIPT_EVENT_CLASS:
        _only_keys(data, {"status"})
        if data.get("status") not in SIMULATED_RESPONSES:
            raise ValueError(f"data.status must be one of {sorted(SIMULATED_RESPONSES)}")
        return SimulatedReceiptRequest(notification_id, data["status"])
    _only_keys(data, {"attempt", "failedProvider"})
    attempt = data.get("attempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise ValueError("data.attempt must be a positive integer")
    failed_provider = data.get("failedProvider") or ""
    if not isinstance(failed_provider, str):
        raise ValueError("data.failedProvider must be a string or null")
    return DeliveryRequest(notification_id, attempt, failed_provider)


def _only_keys(data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown data properties {sorted(unknown)}")


def new_tracing_info() -> dict[str, str]:
    """The current W3C trace context, or a new trace when nothing is being traced (a notification
    created outside a traced request): every attempt of one notification then shares one trace."""
    context = current_trace_context()
    if "traceparent" not in context:
        context["traceparent"] = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    return context
