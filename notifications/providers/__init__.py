"""Delivery receipt providers: one module each, turning the provider's wire format into our vocabulary.

Each provider module has one mapping object from its codes to a `ProviderOutcome` and a `parse_receipt`
that runs the spec's checks in the spec's order (notifications.md Part B §1), raising `CallbackAnswer`
for every answer that ends the request before the database is touched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# A statistics status names the counter a receipt adds to; None (pending) adds to none.
STATISTICS_DELIVERED = "delivered"
STATISTICS_FAILED = "failed"

# User two-factor codes of the 2016 reference were sent outside the notifications table.
SEND_SMS_CODE = "send-sms-code"


@dataclass(frozen=True)
class ProviderOutcome:
    message: str
    success: bool
    status: str
    statistics_status: str | None


@dataclass(frozen=True)
class Receipt:
    provider: str  # firetext, mmg, ses: the name in metrics and in `sent_by`
    client_name: str  # Firetext, MMG, SES: the name in messages
    reference: str  # notification id (SMS) or the provider's message id (SES)
    outcome: ProviderOutcome
    provider_status: str
    provider_code: str | None = None


class CallbackAnswer(Exception):
    """Ends a callback with this envelope message and HTTP status."""

    def __init__(self, message: str | list[str], status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def is_present(value: object) -> bool:
    """The reference's presence test: absent or empty-as-text is missing; 0 is present."""
    return value is not None and str(value) != ""


def require_fields(client_name: str, data: dict, fields: tuple[str, ...]) -> None:
    missing = [f"{client_name} callback failed: {field} missing" for field in fields if not is_present(data.get(field))]
    if missing:
        raise CallbackAnswer(missing)


def sms_notification_id(client_name: str, reference: object) -> str:
    """The notification an SMS receipt names (Part B §1.2 steps 3-4): `send-sms-code` ends the request
    with 200; anything the standard UUID parser refuses is an invalid reference."""
    if reference == SEND_SMS_CODE:
        raise CallbackAnswer(f"{client_name} callback succeeded: {SEND_SMS_CODE}", 200)
    try:
        if not isinstance(reference, str):
            raise ValueError(reference)
        return str(uuid.UUID(reference))
    except ValueError:
        raise CallbackAnswer(f"{client_name} callback with invalid reference {reference}") from None
