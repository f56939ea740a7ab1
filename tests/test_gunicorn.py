"""The real web server: gunicorn with our config serves health, the admin login page and its static files."""

import subprocess
import sys
import time

import pytest
import requests

from dispatcher_site.local_servers import free_port, stop, wait_for_port

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
    assert "event-dispatcher operator console" in login.text
    stylesheet = get(f"{gunicorn_url}/static/admin/css/base.css")
    assert stylesheet.status_code == 200
    assert "text/css" in stylesheet.headers["Content-Type"]
