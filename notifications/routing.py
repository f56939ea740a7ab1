"""Where one delivery attempt goes, and when the next one comes (spec notifications.md Part A §7): pure rules.

1. A test key's notification goes to the simulation, whatever the providers.
2. Otherwise the first active provider of its type in priority order; after an attempt that failed
   through a provider, the active provider after that one (failover; back to the first after the
   last, so a single provider is simply tried again).
3. No active provider: the attempt waits (the notification is not failed for it).
4. A chosen provider without configuration is simulated when SIMULATE_UNCONFIGURED_PROVIDERS is on
   (development); otherwise it is called and fails like any provider error.
5. After failed attempt n the next one waits `base x 2^(n-1)` seconds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from notifications.models import KEY_TYPE_TEST
from notifications.providers.simulated import PROVIDER as SIMULATED


@dataclass(frozen=True)
class Route:
    """`provider` is the provider chosen ("" when none is active); `simulated` means nothing is sent."""

    provider: str
    simulated: bool = False

    @property
    def waiting(self) -> bool:
        return not self.provider

    @property
    def sent_by(self) -> str:
        return SIMULATED if self.simulated else self.provider


WAIT = Route("")


def next_provider(active: Sequence[str], failed: str = "") -> str | None:
    """The provider for this attempt: the first active one, or the one after `failed`."""
    if not active:
        return None
    if failed in active:
        return active[(list(active).index(failed) + 1) % len(active)]
    return active[0]


def route(
    key_type: str,
    active: Sequence[str],
    configured: Collection[str],
    simulate_unconfigured: bool,
    failed: str = "",
) -> Route:
    if key_type == KEY_TYPE_TEST:
        return Route(SIMULATED, simulated=True)
    provider = next_provider(active, failed)
    if provider is None:
        return WAIT
    return Route(provider, simulated=simulate_unconfigured and provider not in configured)


def retry_delay_seconds(failed_attempt: int, base_seconds: int) -> int:
    """The wait before the attempt after `failed_attempt` (1 for the first): base, 2 x base, 4 x base, …"""
    return base_seconds * 2 ** (failed_attempt - 1)
