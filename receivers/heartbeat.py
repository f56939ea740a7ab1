"""The consumer's heartbeat file: what a liveness probe inside its pod reads (consumers serve no HTTP).

1. While `consume_queue` runs, a thread rewrites CONSUMER_HEARTBEAT_FILE every HEARTBEAT_INTERVAL_SECONDS
   with the process's status document (the one its Redis status key holds: instance id, version, each
   receiver UP, DOWN or UNKNOWN, last command applied, shutting down, messages in flight) plus
   `writtenAt`, the wall-clock time of writing.
2. Each write replaces the file atomically (a temporary file in the same directory, then a rename), so a
   reader never sees half a document.
3. Nothing here touches Redis: a consumer cut off from Redis keeps working (spec Part A §8) and must
   not be restarted for it.
4. `alive_problems()` judges a document: the process is alive when it was written within `max_age`
   seconds and no receiver is UNKNOWN (a loop that crashed, or has not come round for longer than its
   lease and back-off allow). A stopped (DOWN) or draining process is alive. `manage.py consumer_alive`
   prints the problems and exits 1 when there are any.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS = 5.0


def write_heartbeat(path: Path, document: dict[str, Any]) -> None:
    """Replace the heartbeat file with `document` and the time of writing."""
    text = json.dumps({**document, "writtenAt": time.time()})
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def heartbeat_files(path: Path) -> list[Path]:
    """The file itself, or the files of the children of `consume_queue --processes N` (`<file>.N`)."""
    children = sorted(
        (child for child in path.parent.glob(f"{path.name}.*") if child.suffix[1:].isdigit()),
        key=lambda child: int(child.suffix[1:]),
    )
    return children if children and not path.exists() else [path]


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    """The last heartbeat document, or None when there is none or it is not a JSON object."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def alive_problems(document: dict[str, Any] | None, now: float, max_age: float) -> list[str]:
    """Why the process that wrote `document` is not alive; empty when it is."""
    if document is None:
        return ["no heartbeat has been written"]
    written_at = document.get("writtenAt")
    if not isinstance(written_at, int | float):
        return ["the heartbeat has no writtenAt time"]
    problems = []
    age = now - written_at
    if age > max_age:
        problems.append(f"the last heartbeat is {age:.0f} s old (at most {max_age:g} s allowed)")
    for receiver in document.get("receiverStatuses", []):
        if receiver.get("status") == "UNKNOWN":
            problems.append(f"receiver {receiver.get('name')} is UNKNOWN (its loop crashed or is stuck)")
    return problems


class HeartbeatWriter:
    """A daemon thread writing the heartbeat file now and every interval until `stopped` is set."""

    def __init__(
        self,
        path: Path,
        document: Callable[[], dict[str, Any]],
        stopped: threading.Event,
        interval: float = HEARTBEAT_INTERVAL_SECONDS,
    ):
        self.path = path
        self.document = document
        self.stopped = stopped
        self.interval = interval
        self.thread = threading.Thread(target=self.run, name="heartbeat", daemon=True)

    def run(self) -> None:
        while True:
            self.beat()
            if self.stopped.wait(timeout=self.interval):
                return

    def beat(self) -> None:
        # A full disk or a bad path must not stop the consumer: the probe then reports the stale heartbeat.
        # Anything else ends this thread, and the stale heartbeat gets the pod restarted.
        try:
            write_heartbeat(self.path, self.document())
        except OSError as error:
            logger.error("cannot write the heartbeat file %s: %s", self.path, error)
