"""Sending notifications to providers: the handlers of `send-sms` and `send-email` (spec notifications.md
Part A §7, Part B §2.3 and §5; dispatcher.md Part A §11 for the outbox).

A delivery message asks for one attempt to hand one notification to a provider:
1. a notification no longer `created` (already sent, receipted, timed out or failed) needs nothing;
2. route it (`notifications.routing`): a test key's notification to the simulation; else the active
   provider of its type first in priority order, after a failed attempt the next active one; with
   no active provider the attempt waits: the same request comes back NOTIFICATION_SEND_NO_PROVIDER_WAIT_SECONDS
   later (a follow-up through the outbox) and the notification stays `created`;
3. claim it: compare-and-set on `created` and no live claim, holding it NOTIFICATION_SEND_CLAIM_SECONDS
   (longer than any provider call), so two consumers with copies of its message never both call a
   provider for it. Held by another consumer: RetryLater (the message comes back after its lease;
   by then the holder has recorded its send, or died and its claim has run out);
4. call the provider, outside any transaction (a decision never calls an external service); the
   service's reply-to address is read now, at send time;
5. record the outcome in one decision: sent → `sending` with sent_at, sent_by, reference and billable
   units, compare-and-set from `created` only (a receipt that came first is never overwritten), and
   for a simulation its receipt message; a provider error → the next attempt as a follow-up after
   NOTIFICATION_SEND_RETRY_BASE_SECONDS x 2^(attempt-1), or after NOTIFICATION_SEND_MAX_ATTEMPTS
   attempts technical-failure, counted once as failed.

A message redelivered after its decision committed never reaches these handlers (handled marks). The
one window in which a provider can get a notification twice is a crash between steps 4 and 5: the
message comes back after its lease and, the claim having run out, the notification is sent again.

A simulated receipt message applies its outcome through the callbacks' own exactly-once status update
(`callbacks.apply_receipt`), as Notify's research mode posts fake provider callbacks.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.utils import timezone

from dispatcher_site.instrumentation import statsd
from dispatcher_site.metrics import statsd_client
from notifications import dao
from notifications.callbacks import apply_receipt
from notifications.delivery import queue_delivery
from notifications.delivery_messages import (
    SEND_QUEUES,
    SENDING_EVENT_CLASSES,
    DeliveryRequest,
    SimulatedReceiptRequest,
    parse_sending_event,
    simulated_receipt_event,
)
from notifications.models import CREATED, EMAIL, SMS, Notification, Provider
from notifications.providers import CallbackAnswer, firetext_client, mmg_client, ses_client, simulated
from notifications.providers.clients import ProviderError
from notifications.routing import Route, retry_delay_seconds, route
from notifications.sms_fragments import fragment_count
from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage, RetryLater, queue_handler
from receivers.outbox import Outbox

logger = logging.getLogger(__name__)

PROVIDER_CLIENTS = {
    SMS: {firetext_client.PROVIDER: firetext_client, mmg_client.PROVIDER: mmg_client},
    EMAIL: {ses_client.PROVIDER: ses_client},
}


@queue_handler(SEND_QUEUES[SMS], accepts=SENDING_EVENT_CLASSES, parse=parse_sending_event)
def send_sms(message: QueueMessage, outbox: Outbox) -> None:
    handle_sending_message(message, outbox)


@queue_handler(SEND_QUEUES[EMAIL], accepts=SENDING_EVENT_CLASSES, parse=parse_sending_event)
def send_email(message: QueueMessage, outbox: Outbox) -> None:
    handle_sending_message(message, outbox)


def handle_sending_message(message: QueueMessage, outbox: Outbox) -> None:
    request = message.event
    if isinstance(request, SimulatedReceiptRequest):
        apply_simulated_receipt(request, outbox)
    else:
        deliver(request, message, outbox)


def deliver(request: DeliveryRequest, message: QueueMessage, outbox: Outbox) -> None:
    """Steps 1-5 of the module docstring for one delivery attempt."""
    notification = load_notification(request.notification_id)
    if notification.status != CREATED:
        logger.info("notification %s is %s: nothing to send", notification.id, notification.status)
        return
    chosen = route_for(notification, request.failed_provider)
    if chosen.waiting:
        wait_for_a_provider(notification, request, message, outbox)
        return
    if not dao.claim_for_sending(notification.id, settings.DISPATCHER.NOTIFICATION_SEND_CLAIM_SECONDS):
        if Notification.objects.filter(id=notification.id, status=CREATED).exists():
            raise RetryLater(f"notification {notification.id} is being sent by another consumer")
        return
    try:
        reference = send_to_provider(notification, chosen)
    except ProviderError as error:
        record_failed_attempt(notification, request, chosen, error, message, outbox)
        return
    record_sent(notification, chosen, reference, message, outbox)


def load_notification(notification_id: uuid.UUID) -> Notification:
    """The notification with its service, read now: the service's settings (reply-to address, sender) are
    the ones of send time (Part B §5)."""
    try:
        return Notification.objects.select_related("service").get(id=notification_id)
    except Notification.DoesNotExist:
        raise HandlerError(DeadLetterCategory.PROCESSING_ERROR, f"notification {notification_id} not found") from None


def route_for(notification: Notification, failed_provider: str) -> Route:
    """The route of this attempt from the provider table and the providers' configuration."""
    clients = PROVIDER_CLIENTS[notification.notification_type]
    active = [p for p in Provider.active_identifiers(notification.notification_type) if p in clients]
    configured = {identifier for identifier, client in clients.items() if client.configured()}
    simulate = settings.DISPATCHER.SIMULATE_UNCONFIGURED_PROVIDERS
    return route(notification.key_type, active, configured, simulate, failed_provider)


def wait_for_a_provider(
    notification: Notification, request: DeliveryRequest, message: QueueMessage, outbox: Outbox
) -> None:
    """No active provider: the same attempt comes back later; the notification is not failed for it."""
    wait = settings.DISPATCHER.NOTIFICATION_SEND_NO_PROVIDER_WAIT_SECONDS
    with outbox.decision():
        queue_delivery(outbox, notification.notification_type, request, wait, message.tracing_info)
    statsd_client().incr(f"sending.{notification.notification_type}.waiting")
    logger.warning(
        "no active %s provider: notification %s waits %d s", notification.notification_type, notification.id, wait
    )


def send_to_provider(notification: Notification, chosen: Route) -> str:
    """Hand the notification to its provider (or to nothing, simulated); the provider's reference."""
    if notification.notification_type == SMS:
        return send_sms_to_provider(notification, chosen)
    return send_email_to_provider(notification, chosen)


@statsd(namespace="tasks")
def send_sms_to_provider(notification: Notification, chosen: Route) -> str:
    reference = ""
    if not chosen.simulated:
        service = notification.service
        client = PROVIDER_CLIENTS[SMS][chosen.provider]
        sender = service.sms_sender or settings.DISPATCHER.SMS_DEFAULT_SENDER
        reference = client.send_sms(notification.to, notification.body, str(notification.id), sender)
    statsd_client().timing_with_dates("sms.total-time", timezone.now(), notification.created_at)
    return reference


@statsd(namespace="tasks")
def send_email_to_provider(notification: Notification, chosen: Route) -> str:
    reference = ""
    if not chosen.simulated:
        # Read with the notification by this attempt: a reply-to address changed after the notification
        # was created applies (Part B §5).
        service = notification.service
        source = ses_client.source_address(service.name, service.email_from, settings.DISPATCHER.NOTIFY_EMAIL_DOMAIN)
        reference = PROVIDER_CLIENTS[EMAIL][chosen.provider].send_email(
            source,
            notification.to,
            notification.subject,
            notification.body,
            notification.html_body,
            service.reply_to_email_address,
        )
    statsd_client().timing_with_dates("email.total-time", timezone.now(), notification.created_at)
    return reference


def record_sent(
    notification: Notification, chosen: Route, reference: str, message: QueueMessage, outbox: Outbox
) -> None:
    units = fragment_count(notification.body) if notification.notification_type == SMS else 0
    with outbox.decision():
        moved = dao.update_notification_to_sending(notification, chosen.sent_by, reference, units)
        if moved and chosen.simulated:
            status = simulated.simulated_status(notification.notification_type, notification.to)
            request = SimulatedReceiptRequest(notification.id, status)
            queue = SEND_QUEUES[notification.notification_type]
            outbox.send(queue, simulated_receipt_event(request), message.tracing_info)
    logger.info(
        "notification %s handed to %s%s", notification.id, chosen.sent_by, "" if moved else " (status already moved on)"
    )


def record_failed_attempt(
    notification: Notification,
    request: DeliveryRequest,
    chosen: Route,
    error: ProviderError,
    message: QueueMessage,
    outbox: Outbox,
) -> None:
    """The next attempt after a growing delay, through the next active provider; or technical-failure."""
    config = settings.DISPATCHER
    notification_type = notification.notification_type
    if request.attempt < config.NOTIFICATION_SEND_MAX_ATTEMPTS:
        delay = retry_delay_seconds(request.attempt, config.NOTIFICATION_SEND_RETRY_BASE_SECONDS)
        retry = DeliveryRequest(notification.id, request.attempt + 1, failed_provider=chosen.provider)
        with outbox.decision():
            dao.release_send_claim(notification.id)
            queue_delivery(outbox, notification_type, retry, delay, message.tracing_info)
        statsd_client().incr(f"sending.{notification_type}.retried")
        logger.warning(
            "notification %s attempt %d failed (%s); attempt %d in %d s",
            notification.id,
            request.attempt,
            error,
            retry.attempt,
            delay,
        )
        return
    with outbox.decision():
        failed = dao.update_notification_to_technical_failure(notification)
    if failed:
        statsd_client().incr(f"sending.{notification_type}.technical-failure")
    logger.error(
        "notification %s: attempt %d of %d failed (%s): technical-failure",
        notification.id,
        request.attempt,
        config.NOTIFICATION_SEND_MAX_ATTEMPTS,
        error,
    )


def apply_simulated_receipt(request: SimulatedReceiptRequest, outbox: Outbox) -> None:
    receipt = simulated.receipt(request.notification_id, request.status)
    with outbox.decision():
        try:
            apply_receipt(receipt)
        except CallbackAnswer as answer:
            logger.warning("simulated receipt for notification %s: %s", request.notification_id, answer.message)
