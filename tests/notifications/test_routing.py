"""Where a delivery attempt goes and when the next one comes (Part A §7): pure rules, table by table."""

import pytest

from notifications.routing import WAIT, Route, next_provider, retry_delay_seconds, route


@pytest.mark.parametrize(
    ("active", "failed", "chosen"),
    [
        ([], "", None),
        (["firetext", "mmg"], "", "firetext"),
        (["firetext", "mmg"], "firetext", "mmg"),
        (["firetext", "mmg"], "mmg", "firetext"),
        (["mmg"], "firetext", "mmg"),  # the failed one was deactivated meanwhile
        (["ses"], "ses", "ses"),  # a single provider is tried again
    ],
)
def test_next_provider(active, failed, chosen):
    assert next_provider(active, failed) == chosen


@pytest.mark.parametrize(
    ("key_type", "active", "configured", "simulate", "failed", "expected"),
    [
        ("normal", ["firetext", "mmg"], {"firetext", "mmg"}, False, "", Route("firetext")),
        ("team", ["firetext", "mmg"], {"firetext", "mmg"}, False, "firetext", Route("mmg")),
        ("test", ["firetext"], {"firetext"}, False, "", Route("simulated", simulated=True)),
        ("test", [], set(), False, "", Route("simulated", simulated=True)),
        ("normal", [], {"firetext"}, True, "", WAIT),
        ("normal", ["firetext"], set(), True, "", Route("firetext", simulated=True)),
        ("normal", ["firetext"], set(), False, "", Route("firetext")),
    ],
)
def test_route(key_type, active, configured, simulate, failed, expected):
    assert route(key_type, active, configured, simulate, failed) == expected


def test_a_simulated_route_is_sent_by_the_simulation_and_waiting_has_no_provider():
    assert Route("firetext", simulated=True).sent_by == "simulated"
    assert Route("mmg").sent_by == "mmg"
    assert WAIT.waiting
    assert not Route("mmg").waiting


@pytest.mark.parametrize(("failed_attempt", "delay"), [(1, 30), (2, 60), (3, 120), (4, 240)])
def test_retry_delays_double(failed_attempt, delay):
    assert retry_delay_seconds(failed_attempt, 30) == delay
