"""The notifications service that sends the receipt mails (spec Part B §8.3).

Every failure is retryable: the notification handler retries whatever went wrong (§5.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from transactions.clients import ClientError, Service, call, no_content


class NotificationsServiceError(ClientError):
    service = "notifications-service"

    @classmethod
    def retryable_status(cls, status: int | None) -> bool:
        return True


NOTIFICATIONS_SERVICE = Service(
    "notifications-service", "NOTIFICATIONS_SERVICE_URI", "NOTIFICATIONS_SERVICE", NotificationsServiceError
)


def send_email(to: str, subject: str, language: str, template_id: str, parameters: Mapping[str, Any]) -> None:
    """POST /emails. 200 is sent; 202 is accepted (the service retries internally): both are success."""
    body = {"to": to, "subject": subject, "language": language, "templateId": template_id, "parameters": parameters}
    call(
        NOTIFICATIONS_SERVICE,
        "send-email",
        "POST",
        "/emails",
        headers={"ocp-apim-subscription-key": settings.DISPATCHER.NOTIFICATIONS_SERVICE_API_KEY},
        json_body=body,
        ok_statuses=(200, 202),
        parse=no_content,
    )
