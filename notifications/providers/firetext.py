"""Firetext delivery receipts: form-encoded `status`, `reference`, optional `code` (Part B §1.2)."""

from django.http import QueryDict

from notifications.models import DELIVERED, PENDING, PERMANENT_FAILURE
from notifications.providers import (
    SEND_SMS_CODE,
    STATISTICS_DELIVERED,
    STATISTICS_FAILED,
    CallbackAnswer,
    ProviderOutcome,
    Receipt,
    notification_id,
    require_fields,
)

CLIENT_NAME = "Firetext"

RESPONSES: dict[str, ProviderOutcome] = {
    "0": ProviderOutcome("Delivered", True, DELIVERED, STATISTICS_DELIVERED),
    "1": ProviderOutcome("Declined", False, PERMANENT_FAILURE, STATISTICS_FAILED),
    "2": ProviderOutcome("Undelivered (Pending with Network)", True, PENDING, None),
}


def parse_receipt(form: QueryDict) -> Receipt:
    require_fields(CLIENT_NAME, form, ("status", "reference"))
    reference = form["reference"]
    if reference == SEND_SMS_CODE:
        raise CallbackAnswer(f"{CLIENT_NAME} callback succeeded: {SEND_SMS_CODE}", 200)
    reference = notification_id(CLIENT_NAME, reference)
    status = form["status"]
    if status not in RESPONSES:
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: status {status} not found.")
    return Receipt("firetext", CLIENT_NAME, reference, RESPONSES[status], status, form.get("code") or None)
