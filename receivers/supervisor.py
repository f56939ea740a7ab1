"""`consume_queue --processes N`: N worker processes under one command, as Celery's prefork and
gunicorn's arbiter do, so one command uses every core (a consumer process is GIL-bound).

1. start N `manage.py consume_queue` children with the same arguments (minus `--processes`); each is a
   complete consumer: its own receivers, handler threads, outbox relay, receiver status key;
2. a child that exits with a failure (or dies from a signal) while the supervisor runs is started
   again after a delay that doubles from 1 s up to 60 s (reset once a child has run for a minute);
   with `--once`, children are not restarted and the supervisor exits with the worst exit code;
3. SIGTERM/SIGINT is passed on to every child, which drains and exits; the supervisor waits for
   them and exits 0. A second signal kills the children at once (their messages come back after
   their lease) and the supervisor exits 1;
4. with CONSUMER_HEARTBEAT_FILE set, child N writes `<file>.N`; `manage.py consumer_alive` checks
   every one of them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

FIRST_RESTART_DELAY = 1.0
POLL_SECONDS = 0.2
MAX_RESTART_DELAY = 60.0
HEALTHY_AFTER_SECONDS = 60.0


def child_heartbeat_file(heartbeat_file: str, number: int) -> str:
    """Child `number`'s heartbeat file: CONSUMER_HEARTBEAT_FILE with `.<number>` appended."""
    return f"{heartbeat_file}.{number}"


def child_arguments(argv: list[str]) -> list[str]:
    """The command line of a child: the supervisor's own, without `--processes N`."""
    arguments: list[str] = []
    skip = False
    for argument in argv:
        if skip:
            skip = False
            continue
        if argument == "--processes":
            skip = True
            continue
        if argument.startswith("--processes="):
            continue
        arguments.append(argument)
    return arguments


@dataclass
class Child:
    number: int
    process: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    restart_delay: float = FIRST_RESTART_DELAY


class Supervisor:
    """Runs and watches the children (see the module docstring)."""

    def __init__(self, count: int, command: list[str], once: bool, heartbeat_file: str = ""):
        self.count = count
        self.command = command
        self.once = once
        self.heartbeat_file = heartbeat_file
        self.stopping = threading.Event()
        self.signals = 0
        self.children: dict[int, Child] = {}
        self.restarts: dict[int, tuple[float, float]] = {}  # number → (when, the delay after that)

    def run(self) -> int:
        """Supervise until every child has exited for good; the exit code (the worst child's with --once)."""
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        for number in range(self.count):
            self.children[number] = self.start(number, FIRST_RESTART_DELAY)
        logger.info("supervising %d consumer processes", self.count)
        worst = 0
        while self.children or (self.restarts and not self.stopping.is_set()):
            for number, child in list(self.children.items()):
                code = child.process.poll()
                if code is not None:
                    worst = max(worst, abs(code))
                    del self.children[number]
                    self.plan_restart(child, code)
            self.start_due_restarts()
            time.sleep(POLL_SECONDS)  # not stopping.wait(): once stopping, it would return at once and spin
        if self.signals > 1:
            return 1  # the children were killed, as a single process exits after a second signal
        return worst if self.once else 0

    def start(self, number: int, next_delay: float) -> Child:
        environment = dict(os.environ)
        if self.heartbeat_file:
            # One heartbeat file per child, so one child's crash is not hidden by another's heartbeat.
            environment["CONSUMER_HEARTBEAT_FILE"] = child_heartbeat_file(self.heartbeat_file, number)
        process = subprocess.Popen(self.command, env=environment)
        return Child(number, process, restart_delay=next_delay)

    def plan_restart(self, child: Child, code: int) -> None:
        if code == 0 or self.once or self.stopping.is_set():
            return
        ran = time.monotonic() - child.started
        delay = FIRST_RESTART_DELAY if ran > HEALTHY_AFTER_SECONDS else child.restart_delay
        logger.warning("consumer process %d exited with %d; restarting it in %.0f s", child.number, code, delay)
        self.restarts[child.number] = (time.monotonic() + delay, min(delay * 2, MAX_RESTART_DELAY))

    def start_due_restarts(self) -> None:
        now = time.monotonic()
        for number, (when, next_delay) in list(self.restarts.items()):
            if when <= now and not self.stopping.is_set():
                del self.restarts[number]
                self.children[number] = self.start(number, next_delay)

    def on_signal(self, signum, frame) -> None:
        self.signals += 1
        self.stopping.set()
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGKILL if self.signals > 1 else signum)
        if self.signals > 1:
            logger.warning("second signal: consumer processes killed")
        else:
            logger.info("signal %s: consumer processes drain and exit", signal.Signals(signum).name)


def supervise(count: int, once: bool, heartbeat_file: str = "") -> int:
    """Run `count` children of the current `manage.py consume_queue` command line."""
    command = [sys.executable, os.path.abspath(sys.argv[0]), *child_arguments(sys.argv[1:])]
    return Supervisor(count, command, once, heartbeat_file).run()
