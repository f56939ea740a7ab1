"""Sending an SMS through MMG (spec notifications.md Part A §7).

A JSON POST to MMG_URL, HTTP basic auth with MMG_USERNAME and MMG_PASSWORD, body `reqType` BULK,
`MSISDN` (international digits), `msg`, `sender`, `cid` (the notification id, which MMG's receipts
name as CID) and `multi` (long texts are sent in several fragments). MMG answers 200 with its own
`Reference`; any other status (MMG then names an `Error` and a `Description`) or an answer without
a Reference is an error.
"""

from __future__ import annotations

from django.conf import settings

from notifications.providers.clients import ProviderError, international_digits, measured, post

PROVIDER = "mmg"


def configured() -> bool:
    config = settings.DISPATCHER
    return bool(config.MMG_URL and config.MMG_USERNAME and config.MMG_PASSWORD)


def send_sms(to: str, content: str, reference: str, sender: str) -> str:
    """Hand the SMS to MMG; MMG's Reference."""
    return measured(PROVIDER, lambda: _send(to, content, reference, sender))


def _send(to: str, content: str, reference: str, sender: str) -> str:
    config = settings.DISPATCHER
    body = {
        "reqType": "BULK",
        "MSISDN": international_digits(to),
        "msg": content,
        "sender": sender,
        "cid": reference,
        "multi": True,
    }
    response = post(PROVIDER, config.MMG_URL, "MMG", json=body, auth=(config.MMG_USERNAME, config.MMG_PASSWORD))
    answer = _json_object(response)
    if response.status_code != 200:
        if "Error" in answer:
            raise ProviderError(PROVIDER, f"MMG error {answer['Error']}: {answer.get('Description', '')}".strip())
        raise ProviderError(PROVIDER, f"HTTP {response.status_code}")
    if not answer.get("Reference"):
        raise ProviderError(PROVIDER, "answer has no Reference")
    return str(answer["Reference"])


def _json_object(response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
