"""SES events delivered by SNS: a text/plain envelope whose `Message` is the SES event as a JSON string
(Part B §1.4). The lookup reference is the SES `mail.messageId`, stored as the notification's reference.
"""

from dispatcher_site.json_bodies import UnacceptableJson, parse_json
from notifications.models import DELIVERED, PERMANENT_FAILURE, TEMPORARY_FAILURE
from notifications.providers import (
    STATISTICS_DELIVERED,
    STATISTICS_FAILED,
    CallbackAnswer,
    ProviderOutcome,
    Receipt,
    require_fields,
)

CLIENT_NAME = "SES"
INVALID_JSON = f"{CLIENT_NAME} callback failed: invalid json"

RESPONSES: dict[str, ProviderOutcome] = {
    "Delivery": ProviderOutcome("Delivered", True, DELIVERED, STATISTICS_DELIVERED),
    "Permanent": ProviderOutcome("Hard bounced", False, PERMANENT_FAILURE, STATISTICS_FAILED),
    "Temporary": ProviderOutcome("Soft bounced", False, TEMPORARY_FAILURE, STATISTICS_FAILED),
    # A complaint means the mail arrived: the reference counted it as delivered.
    "Complaint": ProviderOutcome("Complaint", True, DELIVERED, STATISTICS_DELIVERED),
}


def _json_object(text: str | bytes) -> dict:
    try:
        data = parse_json(text)
    except UnacceptableJson as error:
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: {error}") from None
    except (ValueError, TypeError):
        raise CallbackAnswer(INVALID_JSON) from None
    if not isinstance(data, dict):
        raise CallbackAnswer(INVALID_JSON)
    return data


def parse_envelope(body: bytes) -> dict:
    return _json_object(body)


def _response_key(event: dict) -> tuple[str, str | None]:
    """The mapping key, and the bounce type kept as the provider's code."""
    notification_type = str(event["notificationType"])
    if notification_type != "Bounce":
        return notification_type, None
    bounce = event.get("bounce")
    # The reference raised (500) on a Bounce without its bounce object; here that is malformed input.
    if not isinstance(bounce, dict):
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: bounce missing")
    bounce_type = str(bounce.get("bounceType"))
    return ("Permanent" if bounce_type == "Permanent" else "Temporary"), bounce_type


def parse_receipt(envelope: dict) -> Receipt:
    require_fields(CLIENT_NAME, envelope, ("Message",))
    message = envelope["Message"]
    event = _json_object(message) if isinstance(message, str) else None
    if event is None:
        raise CallbackAnswer(INVALID_JSON)
    require_fields(CLIENT_NAME, event, ("notificationType",))
    key, bounce_type = _response_key(event)
    if key not in RESPONSES:
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: status {key} not found")
    mail = event.get("mail")
    if not isinstance(mail, dict) or not mail.get("source") or not mail.get("messageId"):
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: messageId missing")
    notification_type = str(event["notificationType"])
    return Receipt("ses", CLIENT_NAME, str(mail["messageId"]), RESPONSES[key], notification_type, bounce_type)
