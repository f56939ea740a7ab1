"""The one statsd wrapper (spec notifications.md Part A §6), used by every app.

Every stat goes out as `<STATSD_PREFIX>.<ENVIRONMENT>.<STATSD_NAMESPACE>.<stat>`. When STATSD_ENABLED
is off no socket is ever opened. Timings are always milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import statsd
from django.conf import settings


class StatsdClient:
    def __init__(self, enabled: bool, host: str, port: int, prefix: str, namespace: str):
        self.enabled = enabled
        self.namespace = namespace
        self._client = statsd.StatsClient(host, port, prefix=prefix or None) if enabled else None

    @classmethod
    def from_settings(cls) -> StatsdClient:
        config = settings.DISPATCHER
        return cls(
            enabled=config.STATSD_ENABLED,
            host=config.STATSD_HOST,
            port=config.STATSD_PORT,
            prefix=config.STATSD_PREFIX,
            namespace=f"{config.ENVIRONMENT}.{config.STATSD_NAMESPACE}",
        )

    def _name(self, stat: str) -> str:
        return f"{self.namespace}.{stat}"

    def incr(self, stat: str, count: int = 1, rate: float = 1) -> None:
        if self._client:
            self._client.incr(self._name(stat), count, rate)

    def gauge(self, stat: str, value: float) -> None:
        if self._client:
            self._client.gauge(self._name(stat), value)

    def timing(self, stat: str, milliseconds: float, rate: float = 1) -> None:
        if self._client:
            self._client.timing(self._name(stat), milliseconds, rate)

    def timing_with_dates(self, stat: str, start: datetime, end: datetime, rate: float = 1) -> None:
        """Time from `end` to `start` (the reference's argument order), in milliseconds."""
        self.timing(stat, (start - end).total_seconds() * 1000, rate)

    @contextmanager
    def timer(self, stat: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timing(stat, (time.monotonic() - started) * 1000)


_client: StatsdClient | None = None
_client_config = None


def statsd_client() -> StatsdClient:
    """The process's client, rebuilt when the configuration object changes (tests override it)."""
    global _client, _client_config
    if _client is None or _client_config is not settings.DISPATCHER:
        _client = StatsdClient.from_settings()
        _client_config = settings.DISPATCHER
    return _client
