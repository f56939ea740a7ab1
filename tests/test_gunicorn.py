"""The real web server: gunicorn with our config serves health, the admin login page and its static files;
instances on one machine do not share a control socket."""

import subprocess
import sys
import time

import pytest
import requests

from dispatcher_site.local_servers import free_port, stop, wait_for_port
from tests.receivers.conftest import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def gunicorn_url(subprocess_env):
    port = free_port()
    environment = {**subprocess_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, process, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def get(url, **kwargs):
    deadline = time.monotonic() + 10
    while True:
        try:
            return requests.get(url, timeout=5, **kwargs)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_gunicorn_serves_readiness_admin_and_static_files(gunicorn_url):
    assert get(f"{gunicorn_url}/health/readiness").status_code == 200
    login = get(f"{gunicorn_url}/admin/login/")
    assert login.status_code == 200
    assert "Django administration" in login.text
    stylesheet = get(f"{gunicorn_url}/static/admin/css/base.css")
    assert stylesheet.status_code == 200
    assert "text/css" in stylesheet.headers["Content-Type"]


def start_gunicorn(environment: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"],
        env={**environment, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port, process, timeout=30)
    return process, port


def test_two_instances_on_one_machine_share_no_control_socket(subprocess_env, tmp_path):
    """gunicorn's default control socket is one path per user, which each instance takes over."""
    environment = {k: v for k, v in subprocess_env.items() if k != "XDG_RUNTIME_DIR"} | {"HOME": str(tmp_path)}
    first, first_port = start_gunicorn(environment)
    try:
        second, second_port = start_gunicorn(environment)
        try:
            assert get(f"http://127.0.0.1:{first_port}/health/liveness").status_code == 200
            assert get(f"http://127.0.0.1:{second_port}/health/liveness").status_code == 200
            assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ctl")) == []
        finally:
            stop(second)
    finally:
        stop(first)


def test_a_configured_control_socket_belongs_to_its_instance(subprocess_env, tmp_path):
    path = tmp_path / "web-1.ctl"
    process, port = start_gunicorn({**subprocess_env, "GUNICORN_CONTROL_SOCKET": str(path)})
    try:
        get(f"http://127.0.0.1:{port}/health/liveness")
        wait_until(lambda: path.is_socket(), "the control socket")
    finally:
        stop(process)
