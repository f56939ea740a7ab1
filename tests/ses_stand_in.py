"""SES for tests: moto's own HTTP server in a subprocess (boto3 talks HTTP to it; botocore is not patched).

What SES received is read through moto's API: `/moto-api/data.json` for the messages SES accepted (with
their MessageId), and moto's request recorder (`/moto-api/recorder/...`) for the SendEmail requests
as sent, which carry what the model does not keep (ReplyToAddresses, the Html body).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import boto3
import requests

from dispatcher_site import local_servers

REGION = "eu-west-1"
ACCESS_KEY_ID = "testing-access-key"
SECRET_ACCESS_KEY = "testing-secret-key"


class SesStandIn:
    def __init__(self, recording: Path):
        self.port = local_servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "MOTO_RECORDER_FILEPATH": str(recording)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        local_servers.wait_for_port("127.0.0.1", self.port, self.process)

    def reset(self, verified_domain: str) -> None:
        """Forget every message and request, verify the sending domain, record from now on."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        requests.post(f"{self.url}/moto-api/recorder/reset-recording", timeout=10).raise_for_status()
        self.client().verify_domain_identity(Domain=verified_domain)
        requests.post(f"{self.url}/moto-api/recorder/start-recording", timeout=10).raise_for_status()

    def client(self):
        return boto3.client(
            "ses",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def messages(self) -> list[dict]:
        """The e-mails SES accepted: id (the MessageId), source, subject, body, destinations."""
        data = requests.get(f"{self.url}/moto-api/data.json", timeout=10).json()
        return data["ses"]["Message"]

    def send_email_requests(self) -> list[dict[str, str]]:
        """Every SendEmail request SES received, as its form parameters (first value of each)."""
        recording = requests.get(f"{self.url}/moto-api/recorder/download-recording", timeout=10).text
        found = []
        for line in recording.splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            form = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
            if form.get("Action") == "SendEmail":
                found.append(form)
        return found

    def stop(self) -> None:
        local_servers.stop(self.process)
