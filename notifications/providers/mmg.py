"""MMG delivery receipts: JSON with `status` and `CID` (our notification id) (Part B §1.3).

Every MMG status maps to something: codes outside the table are `failed` (the reference's default).
"""

from dispatcher_site.json_bodies import UnacceptableJson, parse_json
from notifications.models import DELIVERED, FAILED, PERMANENT_FAILURE, TEMPORARY_FAILURE
from notifications.providers import (
    STATISTICS_DELIVERED,
    STATISTICS_FAILED,
    CallbackAnswer,
    ProviderOutcome,
    Receipt,
    require_fields,
    sms_notification_id,
)

CLIENT_NAME = "MMG"

# The leading spaces are the reference's own strings. `2` is permanent-failure from 2016-09-01.
RESPONSES: dict[str, ProviderOutcome] = {
    "2": ProviderOutcome(" Permanent failure", False, PERMANENT_FAILURE, STATISTICS_FAILED),
    "3": ProviderOutcome("Delivered", True, DELIVERED, STATISTICS_DELIVERED),
    "4": ProviderOutcome(" Temporary failure", False, TEMPORARY_FAILURE, STATISTICS_FAILED),
    "5": ProviderOutcome("Permanent failure", False, PERMANENT_FAILURE, STATISTICS_FAILED),
}
DEFAULT_RESPONSE = ProviderOutcome("Declined", False, FAILED, STATISTICS_FAILED)


def outcome(status: str) -> ProviderOutcome:
    return RESPONSES.get(status, DEFAULT_RESPONSE)


def parse_receipt(body: bytes) -> Receipt:
    # The reference answered a malformed body with 500; Part A §3 makes it a 400.
    try:
        data = parse_json(body)
    except UnacceptableJson as error:
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: {error}") from None
    except ValueError:
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: invalid json") from None
    if not isinstance(data, dict):
        raise CallbackAnswer(f"{CLIENT_NAME} callback failed: invalid json")
    require_fields(CLIENT_NAME, data, ("status", "CID"))
    reference = sms_notification_id(CLIENT_NAME, data["CID"])
    status = str(data["status"])
    substatus = data.get("substatus")
    return Receipt("mmg", CLIENT_NAME, reference, outcome(status), status, str(substatus) if substatus else None)
