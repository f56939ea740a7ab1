"""Firetext delivery receipts: form-encoded `status`, `reference`, optional `code` (Part B §1.2)."""

from django.http import QueryDict

from notifications.models import DELIVERED, PENDING, PERMANENT_FAILURE
from notifications.providers import (
    STATISTICS_DELIVERED,
    STATISTICS_FAILED,
    CallbackAnswer,
    ProviderOutcome,
    Receipt,
    require_fields,
    sms_notification_id,
)

CLIENT_NAME = "Firetext"

RESPONSES: dict[str, ProviderOutcome] = {
    "0": ProviderOutcome("Delivered", True, DELIVERED, STATISTICS_DELIVERED),
    "1": ProviderOutcome("Declined", False, PERMANENT_FAILURE, STATISTICS_FAILED),
    "2": ProviderOutcome("Undelivered (Pending with Network)", True, PENDING, None),
}


def parse_receipt(form: QueryDict) -> Receipt:
    require_fields(CLIENT_NAME, form, ("status", "reference"))
    reference = sms_notification_id(CLIENT_NAME, form["reference"])
    status = form["status"]
    if status not in RESPONSES:
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: status {status} not found.")
    return Receipt("firetext", CLIENT_NAME, reference, RESPONSES[status], status, form.get("code") or None)
