"""The real web server: gunicorn with our config serves health, the admin login page and its static files;
instances on one machine do not share a control socket."""

import time

import pytest
import requests

from dispatcher_site.local_servers import stop
from tests.gunicorn_support import start_gunicorn
from tests.receivers.conftest import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def gunicorn_url(subprocess_env):
    process, url = start_gunicorn(subprocess_env)
    try:
        yield url
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


def test_two_instances_on_one_machine_share_no_control_socket(subprocess_env, tmp_path):
    """gunicorn's default control socket is one path per user, which each instance takes over."""
    environment = {k: v for k, v in subprocess_env.items() if k != "XDG_RUNTIME_DIR"} | {"HOME": str(tmp_path)}
    first, first_url = start_gunicorn(environment)
    try:
        second, second_url = start_gunicorn(environment)
        try:
            assert get(f"{first_url}/health/liveness").status_code == 200
            assert get(f"{second_url}/health/liveness").status_code == 200
            assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.ctl")) == []
        finally:
            stop(second)
    finally:
        stop(first)


def test_a_configured_control_socket_belongs_to_its_instance(subprocess_env, tmp_path):
    path = tmp_path / "web-1.ctl"
    process, url = start_gunicorn({**subprocess_env, "GUNICORN_CONTROL_SOCKET": str(path)})
    try:
        get(f"{url}/health/liveness")
        wait_until(lambda: path.is_socket(), "the control socket")
    finally:
        stop(process)


@pytest.mark.parametrize("length", [5_000, 8_000])
def test_a_uri_over_the_limit_is_a_414_in_the_apis_format_not_gunicorns_html(gunicorn_url, length):
    """Found by Schemathesis: a 5,319-byte request line got gunicorn's own HTML 414."""
    response = get(f"{gunicorn_url}/v2/notifications?reference=" + "x" * length)

    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["message"] == "The request URI is longer than 4094 characters."
