"""What the delivery providers' clients share (spec notifications.md Part A §7, Part B §4.4, §5).

One client module per provider sits beside its receipt parser: `firetext_client`, `mmg_client`,
`ses_client`. Each one
1. says whether its variables are set (`configured()`); an unconfigured provider is not called;
2. has its own `requests` session (boto3 client for SES) with no retries of any kind (retrying is the
   send queue's job) and (connect, read) timeouts from the configuration, in milliseconds there;
3. is timed and counted through `measured()`: `clients.<provider>.request-time` (ms, sent for failed
   calls too), then `clients.<provider>.success` or `clients.<provider>.error`;
4. turns every failure into `ProviderError`, whose message names the provider and what went wrong and
   never carries a credential, a recipient or a message body.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from dispatcher_site.metrics import statsd_client

T = TypeVar("T")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")
# Notify's default country: a national number (one leading 0) is a UK number.
DEFAULT_COUNTRY_CODE = "44"


class ProviderError(Exception):
    """A provider did not take the message; the send is retried (Part B §5)."""

    def __init__(self, provider: str, detail: str):
        self.provider = provider
        self.detail = detail
        super().__init__(f"{provider}: {detail}")


def measured(provider: str, call: Callable[[], T]) -> T:
    """Run one provider call with its timing and its success or error count."""
    stats = statsd_client()
    started = time.monotonic()
    outcome = "error"
    try:
        result = call()
        outcome = "success"
        return result
    finally:
        stats.timing(f"clients.{provider}.request-time", (time.monotonic() - started) * 1000)
        stats.incr(f"clients.{provider}.{outcome}")


def timeouts(prefix: str) -> tuple[float, float]:
    """(connect, read) seconds of a provider from its `<PREFIX>_CONNECTION_TIMEOUT` / `_READ_TIMEOUT` (ms)."""
    config = settings.DISPATCHER
    return getattr(config, f"{prefix}_CONNECTION_TIMEOUT") / 1000, getattr(config, f"{prefix}_READ_TIMEOUT") / 1000


_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def session_for(provider: str) -> requests.Session:
    """The provider's one session (its connection pool), without retries. It does not read proxy variables
    on every call (requests would scan the whole environment each time): `post` passes them, read once."""
    with _sessions_lock:
        session = _sessions.get(provider)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            adapter = HTTPAdapter(max_retries=0, pool_maxsize=max(10, settings.DISPATCHER.CONSUMER_WORKER_THREADS))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[provider] = session
        return session


def post(provider: str, url: str, timeout_prefix: str, **arguments) -> requests.Response:
    """POST through the provider's session; a timeout or a connection failure is a ProviderError
    (`from None`: the requests exception's text carries the URL)."""
    try:
        return session_for(provider).post(
            url, timeout=timeouts(timeout_prefix), allow_redirects=False, proxies=proxies_for(url), **arguments
        )
    except requests.Timeout:
        raise ProviderError(provider, "timed out") from None
    except requests.RequestException as error:
        raise ProviderError(provider, f"could not connect ({type(error).__name__})") from None


@functools.lru_cache(maxsize=32)
def proxies_for(url: str) -> dict[str, str]:
    """The proxies the environment names for this URL (NO_PROXY included), read once per URL."""
    return requests.utils.get_environ_proxies(url)


def international_digits(phone_number: str) -> str:
    """The number as SMS providers want it: digits only, country code first, no `+` or `00`."""
    digits = _PHONE_PUNCTUATION.sub("", phone_number)
    if digits.startswith("+"):
        return digits[1:]
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return DEFAULT_COUNTRY_CODE + digits[1:]
    return digits
