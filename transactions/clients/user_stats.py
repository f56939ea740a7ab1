"""User stats: remember the payment method a user last used (spec Part B §8.6).

The caller ignores failures (§5.7 step 2); the client still reports them as UserStatsError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from transactions.clients import ClientError, Service, call, no_content


class UserStatsError(ClientError):
    service = "user-stats"


USER_STATS = Service("user-stats", "USER_STATS_URL", "USER_STATS", UserStatsError)


def save_last_payment_method(user_id: str, details: Mapping[str, Any]) -> None:
    """PUT /user/lastPaymentMethodUsed with `{userId, details}` (wallet or guest details, spec §8.6); 204 expected."""
    call(
        USER_STATS,
        "save-last-payment-method",
        "PUT",
        "/user/lastPaymentMethodUsed",
        headers={"Ocp-Apim-Subscription-Key": settings.DISPATCHER.USER_STATS_API_KEY},
        json_body={"userId": user_id, "details": dict(details)},
        ok_statuses=(200, 204),
        parse=no_content,
    )
