"""The deploy gate's judgement of status documents: when STOP and START count as obeyed, case by case."""

import pytest

from receivers.gate import NOT_REPORTED, Instance, blockers

OURS = "command-ours"
OLDER = "command-older"


def instance(
    *statuses: str,
    acked: object = OURS,
    shutting_down: bool = False,
    in_flight: int = 0,
    stale: bool = False,
    name: str = "event-dispatcher-a",
) -> Instance:
    return Instance(
        instance_id=name,
        statuses=tuple((f"receiver{i}", status) for i, status in enumerate(statuses)),
        last_command_id=acked,
        shutting_down=shutting_down,
        in_flight=in_flight,
        stale=stale,
    )


@pytest.mark.parametrize(
    ("instances", "expected"),
    [
        ([], []),
        ([instance("DOWN", "DOWN")], []),
        ([instance("DOWN", acked=OLDER)], ["event-dispatcher-a has not applied the STOP yet"]),
        ([instance("DOWN", acked=None)], ["event-dispatcher-a has not applied the STOP yet"]),
        ([instance("DOWN", acked=OLDER, shutting_down=True)], []),
        ([instance("DOWN", in_flight=2)], ["event-dispatcher-a is finishing 2 message(s) in flight"]),
        ([instance("DOWN", "UP", acked=OLDER)], ["event-dispatcher-a is still running: receiver1 UP"]),
        ([instance("UNKNOWN")], ["event-dispatcher-a is still running: receiver0 UNKNOWN"]),
        (
            [instance("UP", acked=OLDER, stale=True)],
            ["event-dispatcher-a is last seen (its key has not been refreshed) running: receiver0 UP"],
        ),
        ([instance("DOWN", acked=OLDER, stale=True, in_flight=1)], []),
        ([instance("DOWN", acked=NOT_REPORTED)], []),
        ([instance("DOWN"), instance("UP", acked=OLDER, name="b")], ["b is still running: receiver0 UP"]),
    ],
    ids=[
        "nothing reports",
        "down and acknowledged",
        "down from an older command, not yet read ours",
        "down, never commanded",
        "shutting down",
        "messages still in flight",
        "one receiver still up",
        "a crashed receiver",
        "a dead or cut-off process last seen up waits for its key to expire",
        "a dead process last seen down",
        "a consumer that does not report commands",
        "one of two",
    ],
)
def test_stop_is_obeyed_when_every_instance_is_down_idle_and_has_applied_it(instances, expected):
    assert blockers("STOP", OURS, instances) == expected


@pytest.mark.parametrize(
    ("instances", "min_instances", "expected"),
    [
        ([instance("UP", "UP")], 1, []),
        ([], 1, ["0 live instance(s) report, at least 1 expected"]),
        ([], 0, []),
        ([instance("UP", acked=OLDER)], 1, ["event-dispatcher-a has not applied the START yet"]),
        ([instance("UP", "DOWN")], 1, ["event-dispatcher-a is not up: receiver1 DOWN"]),
        ([instance("UP", acked=OLDER, stale=True)], 1, ["0 live instance(s) report, at least 1 expected"]),
        ([instance("UP", acked=OLDER, stale=True), instance("UP", name="b")], 1, []),
        ([instance("DOWN", shutting_down=True), instance("UP", name="b")], 1, []),
        ([instance("DOWN", shutting_down=True)], 1, ["0 live instance(s) report, at least 1 expected"]),
        ([instance("UP")], 2, ["1 live instance(s) report, at least 2 expected"]),
        ([instance("UP", acked=NOT_REPORTED)], 1, []),
    ],
    ids=[
        "up and acknowledged",
        "nothing reports",
        "nothing expected",
        "not yet read",
        "one receiver down",
        "a dead pod's key does not count",
        "a dead pod's key is ignored beside a live instance",
        "an old pod draining after SIGTERM is ignored",
        "an old pod draining is not an instance that is up",
        "fewer instances than expected",
        "a consumer that does not report commands",
    ],
)
def test_start_is_obeyed_when_enough_live_instances_have_applied_it_and_are_up(instances, min_instances, expected):
    assert blockers("START", OURS, instances, min_instances) == expected
