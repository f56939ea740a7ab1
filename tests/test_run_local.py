"""`manage.py run_local` (what `make run` runs): everything up, ready, admin served; Ctrl-C stops it all."""

import signal
import subprocess
import time

import pytest
import requests

from dispatcher_site.local_servers import azurite_connection_string, free_port, port_answers

pytestmark = pytest.mark.slow


def wait_for_readiness(url: str, process: subprocess.Popen, timeout: float = 60) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            response = requests.get(url, timeout=5)
            if response.status_code == 200:
                return response
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout}s")


def local_environment(database: str, web_port: int, azurite_port: int, settings) -> dict[str, str]:
    """What run_local needs beside the defaults: its own SQLite file, ports, and the tests' Redis."""
    return {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{database}",
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "GUNICORN_WORKERS": "1",
        "QUEUE_TRANSIENT_CONNECTION_STRING": azurite_connection_string(azurite_port),
        "QUEUE_DEADLETTER_CONNECTION_STRING": azurite_connection_string(azurite_port),
        "REDIS_HOST": settings.DISPATCHER.REDIS_HOST,
        "REDIS_PORT": str(settings.DISPATCHER.REDIS_PORT),
        "REDIS_DB": str(settings.DISPATCHER.REDIS_DB),
    }


def start_run_local(manage_py: list[str], environment: dict[str, str], azurite_dir) -> subprocess.Popen:
    return subprocess.Popen(
        [*manage_py, "run_local", "--data-dir", str(azurite_dir)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_run_local_serves_readiness_and_admin_then_stops_everything_on_ctrl_c(manage_py, tmp_path, settings):
    web_port, azurite_port = free_port(), free_port()
    environment = {
        **local_environment(tmp_path / "run-local.sqlite3", web_port, azurite_port, settings),
        "DJANGO_DEBUG": "true",
    }
    process = start_run_local(manage_py, environment, tmp_path / "azurite")
    try:
        readiness = wait_for_readiness(f"http://127.0.0.1:{web_port}/health/readiness", process)
        assert readiness.json()["status"] == "UP"
        login = requests.get(f"http://127.0.0.1:{web_port}/admin/login/", timeout=5)
        assert "event-dispatcher operator console" in login.text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "stopped web" in output
    assert "stopped azurite" in output
    assert not port_answers("127.0.0.1", web_port)
    assert not port_answers("127.0.0.1", azurite_port)
