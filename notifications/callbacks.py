"""Provider delivery receipts: `/notifications/sms/firetext`, `/notifications/sms/mmg`, `/notifications/email/ses`.

Each view reads like spec notifications.md Part A §1-3, §5 and Part B §1: the credential (when one is
configured), the provider's checks in order, the exactly-once status update, then metrics and the
`{"result", "message"}` envelope. A receipt for a notification already final answers 200 "ignored" so
providers stop retrying; an unknown notification answers 404 for every provider.

Credential: when `<PROVIDER>_CALLBACK_TOKEN` is set, the request must carry it as the `token` query
parameter (what a callback URL registered with a provider can hold) or as `Authorization: Bearer <token>`.
SES callbacks are SNS messages: from an allowed topic (when SES_CALLBACK_ALLOWED_TOPIC_ARNS is set), then
signed by SNS (`providers.sns`), else 403, counted, nothing changed; a SubscriptionConfirmation is
confirmed only for a topic of that list.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dispatcher_site.metrics import statsd_client
from notifications import dao
from notifications.envelope import envelope
from notifications.providers import CallbackAnswer, Receipt, firetext, mmg, ses, sns

logger = logging.getLogger(__name__)


def presented_token(request: HttpRequest) -> str:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :]
    return request.GET.get("token", "")


def require_token(request: HttpRequest, provider: str, client_name: str, expected: str) -> None:
    if expected and not hmac.compare_digest(presented_token(request).encode(), expected.encode()):
        statsd_client().incr(f"callback.{provider}.unauthorised")
        raise CallbackAnswer(f"{client_name} callback failed: unauthorised", 401)


def require_allowed_topic(envelope_data: dict) -> None:
    """Only our topics: an SNS signature proves that AWS sent the message, not that it is ours (anyone
    can subscribe this URL to a topic of their own). Without a topic list or a callback token, SES
    callbacks are refused unless debug is on (a development machine)."""
    config = settings.DISPATCHER
    allowed = config.SES_CALLBACK_ALLOWED_TOPIC_ARNS
    topic = envelope_data.get("TopicArn")
    if allowed and topic not in allowed:
        statsd_client().incr("callback.ses.unauthorised")
        raise CallbackAnswer(f"SES callback failed: topic {topic} not allowed", 403)
    if not allowed and not config.SES_CALLBACK_TOKEN and not config.DJANGO_DEBUG:
        statsd_client().incr("callback.ses.unauthorised")
        raise CallbackAnswer(
            "SES callback failed: no SES_CALLBACK_ALLOWED_TOPIC_ARNS or SES_CALLBACK_TOKEN configured", 403
        )


def require_sns_signature(envelope_data: dict) -> None:
    try:
        sns.verify(envelope_data)
    except sns.SnsRejected as error:
        statsd_client().incr("callback.ses.unauthorised")
        logger.warning("SES callback refused: %s", error)
        raise CallbackAnswer(f"SES callback failed: {error}", 403) from None
    except sns.CertificateUnavailable as error:
        logger.warning("SES callback not verified: %s", error)
        raise CallbackAnswer("SES callback failed: the SNS signing certificate is unavailable", 503) from None


def confirm_subscription(envelope_data: dict) -> JsonResponse:
    """A verified SubscriptionConfirmation: confirmed for an allowed topic only, since confirming any topic
    would let anyone's SNS topic send signed receipts."""
    topic = envelope_data.get("TopicArn")
    if topic not in settings.DISPATCHER.SES_CALLBACK_ALLOWED_TOPIC_ARNS:
        statsd_client().incr("callback.ses.unauthorised")
        raise CallbackAnswer(f"SES callback failed: subscription to {topic} not confirmed: topic not allowed", 403)
    try:
        sns.confirm_subscription(envelope_data)
    except sns.SnsRejected as error:
        raise CallbackAnswer(f"SES callback failed: {error}", 403) from None
    except sns.SubscriptionNotConfirmed as error:
        logger.warning("SNS subscription to %s not confirmed: %s", topic, error)
        raise CallbackAnswer(f"SES callback failed: subscription to {topic} not confirmed: {error}", 503) from None
    logger.info("SNS subscription to %s confirmed", topic)
    return envelope(f"SES callback succeeded: subscription to {topic} confirmed", 200)


def apply_receipt(receipt: Receipt, by_reference: bool = False) -> JsonResponse:
    """The exactly-once update, then the metric and the answer for what it did."""
    update_status = (
        dao.update_notification_status_by_reference if by_reference else dao.update_notification_status_by_id
    )
    update = update_status(receipt.reference, receipt.outcome, receipt.provider_status, receipt.provider_code)
    client = statsd_client()
    outcome = receipt.outcome
    if update.notification is None:
        status_named = outcome.status if by_reference else outcome.message
        target = f"with reference {receipt.reference}" if by_reference else receipt.reference
        raise CallbackAnswer(
            f"{receipt.client_name} callback failed: notification {target} not found. Status {status_named}", 404
        )
    notification = update.notification
    if not update.applied:
        client.incr(f"callback.{receipt.provider}.ignored")
        logger.info(
            "%s receipt ignored for notification %s in status %s: %s",
            receipt.client_name,
            notification.id,
            notification.status,
            outcome.status,
        )
        return envelope(
            f"{receipt.client_name} callback ignored: notification {notification.id} already {notification.status}",
            200,
        )
    if not outcome.success:
        logger.info(
            "%s delivery failed: notification %s has error status %s",
            receipt.client_name,
            notification.id,
            notification.status,
        )
    client.incr(f"callback.{receipt.provider}.{outcome.status}")
    if notification.sent_at:
        client.timing_with_dates(f"callback.{receipt.provider}.elapsed-time", timezone.now(), notification.sent_at)
    if by_reference:
        return envelope(f"{receipt.client_name} callback succeeded", 200)
    return envelope(f"{receipt.client_name} callback succeeded. reference {notification.id} updated", 200)


def callback_view(view: Callable[[HttpRequest], JsonResponse]) -> Callable[[HttpRequest], JsonResponse]:
    """A provider callback: POST only, no CSRF token, every early answer sent as the envelope."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def answered(request: HttpRequest) -> JsonResponse:
        try:
            return view(request)
        except CallbackAnswer as answer:
            return envelope(answer.message, answer.status)

    return answered


@callback_view
def process_firetext_response(request: HttpRequest) -> JsonResponse:
    require_token(request, "firetext", firetext.CLIENT_NAME, settings.DISPATCHER.FIRETEXT_CALLBACK_TOKEN)
    return apply_receipt(firetext.parse_receipt(request.POST))


@callback_view
def process_mmg_response(request: HttpRequest) -> JsonResponse:
    require_token(request, "mmg", mmg.CLIENT_NAME, settings.DISPATCHER.MMG_CALLBACK_TOKEN)
    return apply_receipt(mmg.parse_receipt(request.body))


@callback_view
def process_ses_response(request: HttpRequest) -> JsonResponse:
    require_token(request, "ses", ses.CLIENT_NAME, settings.DISPATCHER.SES_CALLBACK_TOKEN)
    envelope_data = ses.parse_envelope(request.body)
    require_allowed_topic(envelope_data)
    require_sns_signature(envelope_data)
    if envelope_data["Type"] == sns.SUBSCRIPTION_CONFIRMATION:
        return confirm_subscription(envelope_data)
    if envelope_data["Type"] == sns.UNSUBSCRIBE_CONFIRMATION:
        logger.info("SNS unsubscribed this endpoint from %s", envelope_data.get("TopicArn"))
        return envelope("SES callback succeeded: unsubscribe confirmation noted", 200)
    return apply_receipt(ses.parse_receipt(envelope_data), by_reference=True)
