"""Fixtures of the console tests: a clean slate of consumer activity."""

import pytest

from receivers import activity


@pytest.fixture(autouse=True)
def no_activity_from_earlier_tests(redis_client):
    """Counts an in-process consumer of an earlier test still held go out now, then are wiped."""
    activity.flush()
    redis_client.flushdb()
