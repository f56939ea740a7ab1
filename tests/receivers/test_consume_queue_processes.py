"""`manage.py consume_queue --processes N`: N supervised consumer processes under one command."""

import signal
import subprocess
from pathlib import Path

import pytest

from receivers.models import ProbeReceipt
from receivers.supervisor import child_arguments
from tests.receivers.conftest import queue_length, send_probe, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def children_of(pid: int) -> list[int]:
    """The live child processes of `pid` (from /proc, as `pgrep -P` reads them)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(child) for child in children]
    return found


def test_the_children_get_the_command_line_without_the_processes_option():
    arguments = ["consume_queue", "probe", "--processes", "3", "--once", "--processes=2", "--batch-size", "8"]

    assert child_arguments(arguments) == ["consume_queue", "probe", "--once", "--batch-size", "8"]


def test_two_processes_share_the_work_and_the_supervisor_exits_when_both_are_done(start_consumer):
    # Six seconds of work per process: both have started long before the queue is empty.
    sent = {send_probe({"record": True, "sleepSeconds": 0.2})["id"] for _ in range(60)}

    supervisor = start_consumer("probe", "--once", "--processes", "2", "--worker-threads", "2")

    assert supervisor.wait(timeout=120) == 0
    assert set(ProbeReceipt.objects.values_list("event_id", flat=True)) == sent
    assert queue_length("probe") == 0
    finished = [line for line in supervisor.lines if "finished: processed=" in line]
    assert len(finished) >= 2, supervisor.output
    handled = [int(line.split("processed=")[1].split()[0]) for line in finished if line.startswith("finished:")]
    assert len(handled) == 2
    assert sum(handled) == 60
    assert min(handled) > 0, "both processes took part"


def test_a_child_that_dies_is_started_again_and_sigterm_drains_them_all(start_consumer):
    supervisor = start_consumer("probe", "--processes", "2")
    supervisor.wait_for_output("consuming probe", count=2)
    [first, second] = sorted(children_of(supervisor.process.pid))

    subprocess.run(["kill", "-9", str(first)], check=True)
    supervisor.wait_for_output("restarting it in 1 s")
    supervisor.wait_for_output("consuming probe", count=3)
    wait_until(lambda: len(children_of(supervisor.process.pid)) == 2, "two children again")
    assert second in children_of(supervisor.process.pid)

    supervisor.signal(signal.SIGTERM)

    assert supervisor.wait(timeout=60) == 0
    assert supervisor.process.returncode == 0
    finished = [line for line in supervisor.lines if line.startswith("finished: processed=")]
    assert len(finished) == 2, "both running children drained and exited"


def test_each_child_keeps_its_own_heartbeat_and_the_liveness_check_reads_them_all(
    start_consumer, tmp_path, manage_py, subprocess_env
):
    heartbeat = tmp_path / "heartbeat.json"
    supervisor = start_consumer("probe", "--processes", "2", CONSUMER_HEARTBEAT_FILE=str(heartbeat))
    wait_until(lambda: (tmp_path / "heartbeat.json.0").exists() and (tmp_path / "heartbeat.json.1").exists(), "both")

    check = subprocess.run(
        [*manage_py, "consumer_alive", "--file", str(heartbeat)], env=subprocess_env, capture_output=True, text=True
    )

    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("event-dispatcher-") == 2, "one live instance per child"
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(timeout=60) == 0
