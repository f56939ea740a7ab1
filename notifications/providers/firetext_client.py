"""Sending an SMS through Firetext (spec notifications.md Part A §7).

A form POST to FIRETEXT_URL with `apiKey`, `from`, `to` (international digits), `message` and
`reference` (the notification id, which Firetext's receipts name). Firetext answers JSON whose `code`
0 means queued; any other code is an error carrying Firetext's code and description, as is any HTTP
status but 200 or an answer that is not that JSON.
"""

from __future__ import annotations

from django.conf import settings

from notifications.providers.clients import ProviderError, international_digits, measured, post

PROVIDER = "firetext"


def configured() -> bool:
    config = settings.DISPATCHER
    return bool(config.FIRETEXT_URL and config.FIRETEXT_API_KEY)


def send_sms(to: str, content: str, reference: str, sender: str) -> str:
    """Hand the SMS to Firetext; the provider reference to store (Firetext has none of its own: "")."""
    return measured(PROVIDER, lambda: _send(to, content, reference, sender))


def _send(to: str, content: str, reference: str, sender: str) -> str:
    config = settings.DISPATCHER
    form = {
        "apiKey": config.FIRETEXT_API_KEY,
        "from": sender,
        "to": international_digits(to),
        "message": content,
        "reference": reference,
    }
    response = post(PROVIDER, config.FIRETEXT_URL, "FIRETEXT", data=form)
    if response.status_code != 200:
        raise ProviderError(PROVIDER, f"HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise ProviderError(PROVIDER, "answer is not JSON") from None
    if not isinstance(answer, dict) or "code" not in answer:
        raise ProviderError(PROVIDER, "answer has no code")
    if str(answer["code"]) != "0":
        raise ProviderError(PROVIDER, f"Firetext error {answer['code']}: {answer.get('description', '')}".strip())
    return ""
