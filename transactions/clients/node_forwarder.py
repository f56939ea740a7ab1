"""The node forwarder, which relays refunds to redirect PSP back ends (spec Part B §8.7, §5.9.2).

The request goes to `{NODE_FORWARDER_URL}/forward`; the target is `<resolved redirect url>/refunds`,
passed as the forwarding headers X-Host-Url (host name), X-Host-Port and X-Host-Path, with X-Request-Id
= the transaction id. Header names and the `/forward` path are the node forwarder's public API
(inferred: the spec marks them unverified). 5xx and no status are retryable; other statuses blocking.
"""

from __future__ import annotations

import enum
from urllib.parse import urlsplit

import requests
from django.conf import settings

from transactions.clients import ClientConfigurationError, ClientError, Service, call, json_object

DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefundOutcome(enum.StrEnum):
    OK = "OK"
    KO = "KO"
    CANCELED = "CANCELED"


class NodeForwarderError(ClientError):
    service = "node-forwarder"


NODE_FORWARDER = Service("node-forwarder", "NODE_FORWARDER_URL", "NODE_FORWARDER", NodeForwarderError)


def forwarding_headers(target_url: str) -> dict[str, str]:
    """X-Host-Url/Port/Path for a target URL; the port defaults by scheme (the reference always used 443)."""
    target = urlsplit(target_url)
    if not target.hostname:
        raise ClientConfigurationError("node-forwarder", "redirect-refund", "redirect URL without a host")
    port = target.port or DEFAULT_PORTS.get(target.scheme, 443)
    return {"X-Host-Url": target.hostname, "X-Host-Port": str(port), "X-Host-Path": target.path or "/"}


def _outcome(response: requests.Response) -> RedirectRefundOutcome:
    return RedirectRefundOutcome(json_object(response)["outcome"])


def refund_redirect(redirect_url: str, transaction_id: str, psp_transaction_id: str) -> RedirectRefundOutcome:
    """Ask the PSP behind `redirect_url` (from redirect_urls.resolve_redirect_url) to refund the transaction."""
    headers = {
        **forwarding_headers(redirect_url.rstrip("/") + "/refunds"),
        "X-Request-Id": transaction_id,
        "Ocp-Apim-Subscription-Key": settings.DISPATCHER.NODE_FORWARDER_API_KEY,
    }
    body = {"action": "refund", "idPSPTransaction": psp_transaction_id, "idTransaction": transaction_id}
    return call(NODE_FORWARDER, "redirect-refund", "POST", "/forward", headers=headers, json_body=body, parse=_outcome)
