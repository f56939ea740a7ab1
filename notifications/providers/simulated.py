"""The simulation, GOV.UK Notify's test keys (spec notifications.md Part A §7).

A notification of a `test` API key (and, with SIMULATE_UNCONFIGURED_PROVIDERS on, one whose provider
has no configuration) goes to no provider. Its send is recorded as usual with `sent_by` "simulated",
then a receipt of this module's own mapping goes through the callbacks' status update
(`callbacks.apply_receipt`), as Notify's research mode posts fake provider callbacks. The outcome
depends on the recipient, as Notify documents for test keys:

| recipient                                 | outcome           |
|-------------------------------------------|-------------------|
| 07700900003 (or +44 7700 900003)           | temporary-failure |
| 07700900002 (or +44 7700 900002)           | permanent-failure |
| temp-fail@simulator.notify                | temporary-failure |
| perm-fail@simulator.notify                | permanent-failure |
| any other phone number or e-mail address  | delivered         |
"""

from __future__ import annotations

import re
import uuid

from notifications.models import DELIVERED, PERMANENT_FAILURE, SMS, TEMPORARY_FAILURE
from notifications.providers import STATISTICS_DELIVERED, STATISTICS_FAILED, ProviderOutcome, Receipt

PROVIDER = "simulated"
CLIENT_NAME = "Simulation"

# National significant numbers of the UK test numbers (without 0 or +44).
TEMPORARY_FAILURE_NUMBER = "7700900003"
PERMANENT_FAILURE_NUMBER = "7700900002"
TEMPORARY_FAILURE_EMAIL = "temp-fail@simulator.notify"
PERMANENT_FAILURE_EMAIL = "perm-fail@simulator.notify"

RESPONSES: dict[str, ProviderOutcome] = {
    DELIVERED: ProviderOutcome("Delivered", True, DELIVERED, STATISTICS_DELIVERED),
    TEMPORARY_FAILURE: ProviderOutcome("Temporary failure", False, TEMPORARY_FAILURE, STATISTICS_FAILED),
    PERMANENT_FAILURE: ProviderOutcome("Permanent failure", False, PERMANENT_FAILURE, STATISTICS_FAILED),
}


def national_number(phone_number: str) -> str:
    digits = re.sub(r"\D", "", phone_number)
    for prefix in ("0044", "44", "0"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


def simulated_status(notification_type: str, recipient: str) -> str:
    """The status a simulated notification ends in (the table of the module docstring)."""
    if notification_type == SMS:
        number = national_number(recipient)
        failures = {TEMPORARY_FAILURE_NUMBER: TEMPORARY_FAILURE, PERMANENT_FAILURE_NUMBER: PERMANENT_FAILURE}
        return failures.get(number, DELIVERED)
    address = recipient.strip().lower()
    failures = {TEMPORARY_FAILURE_EMAIL: TEMPORARY_FAILURE, PERMANENT_FAILURE_EMAIL: PERMANENT_FAILURE}
    return failures.get(address, DELIVERED)


def receipt(notification_id: uuid.UUID | str, status: str) -> Receipt:
    """The simulated receipt of a notification, as the callbacks' status update takes it."""
    if status not in RESPONSES:
        raise ValueError(f"no simulated outcome {status!r}")
    return Receipt(PROVIDER, CLIENT_NAME, str(notification_id), RESPONSES[status], status)
