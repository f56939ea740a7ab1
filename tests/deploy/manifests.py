"""The Kubernetes overlays as the tests see them: rendered by `kubectl kustomize`, then read as plain data.

`kubectl()` finds a kubectl whose built-in kustomize is v5 or newer (KUBECTL, the virtualenv's, then the
PATH's); `.ci/run` makes sure there is one. Rendering fails the test with kubectl's own message.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "uat", "prod")
# Stand-ins for the Secret's values (the Secret is created in each namespace, never kept in the repository).
SECRET_STAND_INS = {
    "DJANGO_SECRET_KEY": "stand-in-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "SECURITY_API_KEYS_PRIMARY": "stand-in-api-key",
    "DATABASE_URL": "postgres://dispatcher:password@postgres:5432/dispatcher",
}


@functools.cache
def kubectl() -> str:
    candidates = [os.environ.get("KUBECTL"), str(Path(sys.executable).parent / "kubectl"), shutil.which("kubectl")]
    for candidate in filter(None, candidates):
        if not Path(candidate).exists():
            continue
        version = subprocess.run([candidate, "version", "--client"], capture_output=True, text=True).stdout
        found = re.search(r"Kustomize Version: v(\d+)", version)
        if found and int(found.group(1)) >= 5:
            return candidate
    pytest.fail("no kubectl with kustomize v5 or newer: .ci/run installs one (README, 'Deploying to Kubernetes')")


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}")
    return tuple(document for document in yaml.safe_load_all(result.stdout) if document)


def of_kind(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [document for document in rendered(overlay) if document["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    [document] = [d for d in of_kind(overlay, kind) if d["metadata"]["name"] == name]
    return document


def labelled(document: dict[str, Any], key: str) -> str | None:
    return document["metadata"].get("labels", {}).get(key)


def consumers(overlay: str) -> list[dict[str, Any]]:
    return [d for d in of_kind(overlay, "Deployment") if labelled(d, "app.kubernetes.io/component") == "consumer"]


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    if document["kind"] == "CronJob":
        return document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return document["spec"]["template"]["spec"]


def container(document: dict[str, Any]) -> dict[str, Any]:
    [only] = pod_spec(document)["containers"]
    return only


def environment(overlay: str, document: dict[str, Any]) -> dict[str, str]:
    """The container's environment: its ConfigMaps, stand-ins for its Secret, then its own env entries."""
    spec = container(document)
    values: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            values.update(named(overlay, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            values.update(SECRET_STAND_INS)
    values.update({entry["name"]: entry["value"] for entry in spec.get("env", [])})
    return values
