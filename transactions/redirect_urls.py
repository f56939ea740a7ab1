"""Which redirect PSP back end serves a transaction (spec Part B §12, used by redirect refunds §5.9.2).

`REDIRECT_URL_CONFIGURATION` is a list of `{"url", "matchingCriteria": {PSP_ID, TOUCHPOINT,
PAYMENT_TYPE_CODE, PSP_CHANNEL_ID}}`. An entry matches a search when, for every search key, the entry
either lacks that key or has the same value; among the matches, those with the most exactly-equal keys
win; exactly one must remain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings


class RedirectConfigurationError(Exception):
    """No single redirect URL answers these criteria."""


class RedirectUrlNotFound(RedirectConfigurationError):
    pass


class RedirectUrlAmbiguous(RedirectConfigurationError):
    pass


def _describe(criteria: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(criteria.items()))


def _matches(entry_criteria: Mapping[str, Any], criteria: Mapping[str, Any]) -> bool:
    return all(key not in entry_criteria or entry_criteria[key] == value for key, value in criteria.items())


def _equal_keys(entry_criteria: Mapping[str, Any], criteria: Mapping[str, Any]) -> int:
    return sum(1 for key, value in criteria.items() if key in entry_criteria and entry_criteria[key] == value)


def resolve_redirect_url(criteria: Mapping[str, Any], configuration: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The one URL configured for these criteria (by default from REDIRECT_URL_CONFIGURATION)."""
    if configuration is None:
        configuration = settings.DISPATCHER.REDIRECT_URL_CONFIGURATION
    matching = [entry for entry in configuration if _matches(entry["matchingCriteria"], criteria)]
    if not matching:
        raise RedirectUrlNotFound(f"No configuration found for {_describe(criteria)}")
    best = max(_equal_keys(entry["matchingCriteria"], criteria) for entry in matching)
    winners = [entry for entry in matching if _equal_keys(entry["matchingCriteria"], criteria) == best]
    if len(winners) > 1:
        raise RedirectUrlAmbiguous(f"Multiple configurations found for {_describe(criteria)}")
    return winners[0]["url"]


def expected_criteria_problems(
    configuration: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]
) -> list[str]:
    """One problem per expected criteria set that does not resolve to exactly one URL."""
    problems = []
    for criteria in expected:
        try:
            resolve_redirect_url(criteria, configuration)
        except RedirectConfigurationError as error:
            problems.append(f"REDIRECT_URL_CONFIGURATION: {error} (from REDIRECT_EXPECTED_MATCHING_CRITERIA)")
    return problems
