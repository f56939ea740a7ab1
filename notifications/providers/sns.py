"""Amazon SNS deliveries over HTTPS: proving who sent them, and confirming subscriptions (issue 14;
spec notifications.md Part A §5, Part B §7 "check SNS signatures").

`verify(envelope)`:
1. `SignatureVersion` is "1" (SHA1withRSA) or "2" (SHA256withRSA) and `Signature` is base64;
2. `SigningCertURL` is https, on a host that SNS_HOST_PATTERN matches in full (AWS's SNS hosts by
   default), with no user part, at a `/SimpleNotificationService-<id>.pem` path: a certificate from
   anywhere else is never fetched (django-ses trusted any amazonaws.com host until 2023, so a
   certificate in anyone's S3 bucket signed "SNS" messages);
3. the certificate is fetched without following redirects and kept for the life of the process (SNS
   publishes a new certificate under a new URL);
4. the string to sign is "<name>\\n<value>\\n" for the message type's fields in AWS's order, and the
   signature must verify with the certificate's RSA key.
A message that fails any step raises `SnsRejected` (the callback answers 403); a certificate that
cannot be fetched raises `CertificateUnavailable` (503, so SNS delivers the message again later).

`confirm_subscription(envelope)` GETs its `SubscribeURL`, which must pass the host rule of step 2.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

# The fields each message type signs, in the order AWS concatenates them.
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
OPTIONAL_FIELDS = frozenset({"Subject"})
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
CERTIFICATE_PATH = re.compile(r"/SimpleNotificationService-[A-Za-z0-9]+\.pem")
CACHED_CERTIFICATES = 32

_session = requests.Session()


class SnsRejected(Exception):
    """The message cannot be shown to come from SNS; the message says why."""


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched: nothing is known about the message yet."""


class SubscriptionNotConfirmed(Exception):
    """The SubscribeURL did not answer 200; SNS sends the SubscriptionConfirmation again later."""


def string_to_sign(envelope: dict) -> bytes:
    message_type = envelope.get("Type")
    if message_type not in SIGNED_FIELDS:
        raise SnsRejected(f"unknown message type {message_type!r}")
    lines = []
    for name in SIGNED_FIELDS[message_type]:
        value = envelope.get(name)
        if value is None and name in OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SnsRejected(f"{name} missing")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def require_sns_url(url: object, what: str, path: re.Pattern[str] | None = None) -> str:
    """Step 2's rule for any URL the message asks us to fetch."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme != "https"
        or parts.username is not None
        or not parts.hostname
        or not re.fullmatch(settings.DISPATCHER.SNS_HOST_PATTERN, parts.hostname)
        or (path is not None and not path.fullmatch(parts.path))
    ):
        raise SnsRejected(f"{what} {url!r} is not an SNS address")
    return url


def timeouts() -> tuple[float, float]:
    config = settings.DISPATCHER
    return config.SNS_CONNECTION_TIMEOUT / 1000, config.SNS_READ_TIMEOUT / 1000


@functools.lru_cache(maxsize=CACHED_CERTIFICATES)
def signing_key(url: str) -> rsa.RSAPublicKey:
    """Step 3; failures are not cached, so the next message tries again."""
    response = _get(url, CertificateUnavailable, f"cannot fetch {url}")
    try:
        key = x509.load_pem_x509_certificate(response.content).public_key()
    except ValueError:
        raise SnsRejected(f"{url} is not a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRejected(f"{url} does not hold an RSA key")
    return key


def verify(envelope: dict) -> None:
    """Steps 1-4; returns only for a message SNS signed."""
    algorithm = HASHES.get(envelope.get("SignatureVersion"))
    if algorithm is None:
        raise SnsRejected(f"unsupported SignatureVersion {envelope.get('SignatureVersion')!r}")
    try:
        signature = base64.b64decode(envelope.get("Signature") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise SnsRejected("Signature is not base64") from None
    signed = string_to_sign(envelope)
    url = require_sns_url(envelope.get("SigningCertURL"), "SigningCertURL", CERTIFICATE_PATH)
    try:
        signing_key(url).verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SnsRejected("signature does not match") from None


def confirm_subscription(envelope: dict) -> None:
    """GET the SubscribeURL of a verified SubscriptionConfirmation."""
    url = require_sns_url(envelope.get("SubscribeURL"), "SubscribeURL")
    _get(url, SubscriptionNotConfirmed, "cannot reach SubscribeURL")


def _get(url: str, failure: type[Exception], what: str) -> requests.Response:
    """GET an SNS URL (no redirects); `failure(what: reason)` unless it answers 200."""
    try:
        response = _session.get(url, timeout=timeouts(), allow_redirects=False)
    except requests.RequestException as error:
        raise failure(f"{what}: {type(error).__name__}") from None
    if response.status_code != 200:
        raise failure(f"{what}: HTTP {response.status_code}")
    return response
