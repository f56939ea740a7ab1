"""Creating a notification together with its delivery message (spec notifications.md Part A §7,
dispatcher.md Part A §11). Every creator (the v2 API, `POST /emails`) goes through `create_notification`.

1. One decision of an outbox that belongs to no queue message: the notification row, its `requested`
   count, and an outbox row holding its first delivery message (send-sms or send-email) commit
   together, or not at all.
2. After the commit the row is relayed at once (`receivers.relay.relay_rows`), so the message usually
   leaves within the request. If the process dies first, or the queue service is out, the row stays
   pending and every consumer's relay sweep sends it after OUTBOX_RELAY_GRACE_SECONDS: a committed
   notification always gets its message; no separate replay of `created` notifications is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import DatabaseError

from notifications import dao
from notifications.delivery_messages import SEND_QUEUES, DeliveryRequest, delivery_event, new_tracing_info
from notifications.models import ApiKey, Notification, Template
from receivers.outbox import Outbox
from receivers.relay import relay_rows

logger = logging.getLogger(__name__)


def create_notification(
    template: Template,
    to: str,
    personalisation: dict,
    api_key: ApiKey | None = None,
    client_reference: str | None = None,
    rendered: tuple[str, str, str] | None = None,
) -> Notification:
    """A `created` notification whose delivery message is committed with it and sent right after."""
    outbox = Outbox()
    with outbox.decision():
        notification = dao.create_notification(
            template, to, personalisation, api_key=api_key, client_reference=client_reference, rendered=rendered
        )
        queue_delivery(outbox, notification.notification_type, DeliveryRequest(notification.id))
    relay_now(outbox)
    return notification


def queue_delivery(
    outbox: Outbox,
    notification_type: str,
    request: DeliveryRequest,
    visibility_seconds: int = 0,
    tracing_info: Mapping[str, Any] | None = None,
) -> None:
    """Write a delivery message in the open decision, visible after `visibility_seconds`."""
    tracing_info = tracing_info or new_tracing_info()
    outbox.send(SEND_QUEUES[notification_type], delivery_event(request), tracing_info, visibility_seconds)


def relay_now(outbox: Outbox) -> None:
    """Send the committed rows now; what cannot be sent (an outage is handled inside) waits for the sweep."""
    try:
        relay_rows(outbox.committed_row_ids)
    except DatabaseError as error:
        # The notification is committed; its row is the sweep's now. The caller's answer stands.
        logger.warning("delivery messages %s left to the relay sweep: %s", outbox.committed_row_ids, error)
