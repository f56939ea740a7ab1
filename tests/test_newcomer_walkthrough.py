"""The README's walkthrough, as a newcomer runs it: `make run` (`manage.py run_local` with the Makefile's
development variables), `create_service`, an SMS sent with Notify's official client, and the notification
`delivered` in the admin, with no provider account (spec notifications.md Part A §7)."""

import json
import re
import signal
import subprocess
import time

import pytest
import requests
from notifications_python_client import NotificationsAPIClient

from dispatcher_site.local_servers import free_port
from tests.conftest import PROJECT_ROOT
from tests.test_run_local import local_environment, start_run_local, wait_for_readiness

pytestmark = pytest.mark.slow


def makefile_run_environment() -> dict[str, str]:
    """The development variables `make run` sets (RUN_ENV in the Makefile), with their defaults."""
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    block = re.search(r"^RUN_ENV := (.*?)\n\n", makefile, re.MULTILINE | re.DOTALL).group(1)
    pairs = re.findall(r"(\w+)=(\$\$\{\w+:-([^}]*)\}|\S+)", block.replace("\\\n", " "))
    return {name: default if value.startswith("$$") else value for name, value, default in pairs}


def test_a_newcomer_sends_an_sms_after_make_run_and_sees_it_delivered_in_the_admin(manage_py, tmp_path, settings):
    web_port, azurite_port = free_port(), free_port()
    web = f"http://127.0.0.1:{web_port}"
    environment = {
        **makefile_run_environment(),
        **local_environment(tmp_path / "walkthrough.sqlite3", web_port, azurite_port, settings),
        "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY": f"walkthrough-{web_port}",
    }
    assert environment["SIMULATE_UNCONFIGURED_PROVIDERS"] == "true"
    process = start_run_local(manage_py, environment, tmp_path / "azurite")
    try:
        wait_for_readiness(f"{web}/health/readiness", process)

        def manage(*arguments: str, **extra: str) -> str:
            run = subprocess.run(
                [*manage_py, *arguments], env={**environment, **extra}, capture_output=True, text=True, timeout=60
            )
            assert run.returncode == 0, run.stderr
            return run.stdout

        created = json.loads(
            manage("create_service", "Demo", "--sms-template", "Hello ((name)), your code is ((code))")
        )
        template_id = created["templates"][0]["id"]
        sent = {}
        for key in ("test_api_key", "api_key"):
            client = NotificationsAPIClient(created[key], base_url=web)
            sent[key] = client.send_sms_notification("07700900123", template_id, {"name": "Ada", "code": "1234"})
        test_client = NotificationsAPIClient(created["test_api_key"], base_url=web)
        deadline = time.monotonic() + 60
        while test_client.get_notification_by_id(sent["test_api_key"]["id"])["status"] != "delivered":
            assert time.monotonic() < deadline, "the test key's SMS was not delivered"
            time.sleep(0.5)
        normal_client = NotificationsAPIClient(created["api_key"], base_url=web)
        while normal_client.get_notification_by_id(sent["api_key"]["id"])["status"] != "delivered":
            assert time.monotonic() < deadline, "the normal key's SMS was not delivered (simulated provider)"
            time.sleep(0.5)

        manage(
            "createsuperuser",
            "--noinput",
            "--username",
            "newcomer",
            "--email",
            "newcomer@example.com",
            DJANGO_SUPERUSER_PASSWORD="walkthrough-password",
        )
        admin = requests.Session()
        login = admin.get(f"{web}/admin/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        admin.post(
            f"{web}/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": "newcomer", "password": "walkthrough-password"},
            headers={"Referer": f"{web}/admin/login/"},
            timeout=10,
        )
        page = admin.get(f"{web}/admin/notifications/notification/?status__exact=delivered", timeout=10).text
        for notification in sent.values():
            assert notification["id"] in page
        assert "2 notifications" in page
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
