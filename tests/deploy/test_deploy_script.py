"""`deploy/k8s/deploy.sh`: shellcheck-clean, and its dry run prints the whole gated sequence in order,
including what it does when a step fails. No cluster is touched: kubectl is wrapped to record every call."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.deploy.manifests import DEPLOY, consumers, kubectl, of_kind

SCRIPT = DEPLOY / "deploy.sh"


def test_the_script_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: .ci/run installs it (apt-get install shellcheck)")

    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout


@pytest.fixture
def dry_run(tmp_path):
    """Run the script's dry run with a kubectl that records each real call before making it."""
    calls = tmp_path / "kubectl-calls"
    wrapper = tmp_path / "kubectl"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {kubectl()} "$@"\n')
    wrapper.chmod(0o755)

    def run(*arguments: str, fail_at: str | None = None) -> tuple[int, list[str], list[str]]:
        env = {"PATH": "/usr/bin:/bin", "KUBECTL": str(wrapper)}
        if fail_at:
            env["DRY_RUN_FAIL_AT"] = fail_at
        result = subprocess.run([str(SCRIPT), *arguments], capture_output=True, text=True, env=env, timeout=120)
        made = calls.read_text().splitlines() if calls.exists() else []
        return result.returncode, result.stdout.splitlines(), made

    return run


def cluster_calls(lines: list[str]) -> list[str]:
    return [line.removeprefix("+ kubectl ") for line in lines if line.startswith("+ kubectl ")]


def position(calls: list[str], pattern: str) -> int:
    found = [index for index, call in enumerate(calls) if re.search(pattern, call)]
    assert len(found) == 1, f"{pattern!r} in {calls}"
    return found[0]


def test_the_prod_dry_run_prints_the_gated_sequence_in_order_and_touches_no_cluster(dry_run):
    code, lines, made = dry_run("--dry-run", "prod")

    assert code == 0, "\n".join(lines)
    assert len(made) == 1, "only the overlay was rendered for real"
    assert re.fullmatch(r"kustomize \S+/deploy/k8s/overlays/prod", made[0])
    assert (
        "== deploying registry.example.com/event-dispatcher:0.1.0 to namespace event-dispatcher-prod as PROD (dry run)"
        in lines
    )
    calls = cluster_calls(lines)
    assert all("-n event-dispatcher-prod" in call for call in calls if not call.startswith("apply "))
    ordered = [
        r"^get secret event-dispatcher-secrets ",
        r"^apply -f \S+ -l app\.kubernetes\.io/component\\ in\\ \\\(config\\,deploy-job\\\)$",
        r"^create job event-dispatcher-preflight-\S+ --from=cronjob/event-dispatcher-preflight ",
        r"^create job event-dispatcher-receivers-stop-\S+ --from=cronjob/event-dispatcher-receivers-stop ",
        r"^annotate .* autoscaling\.keda\.sh/paused=true --overwrite$",
        r"^create job event-dispatcher-migrate-\S+ --from=cronjob/event-dispatcher-migrate ",
        r"^apply -f \S+manifests\.yaml$",
        r"^rollout status deployment .*-l app\.kubernetes\.io/name=event-dispatcher --timeout 600s$",
        r"^create job event-dispatcher-receivers-start-\S+ --from=cronjob/event-dispatcher-receivers-start ",
        r"^annotate .* autoscaling\.keda\.sh/paused-$",
    ]
    positions = [position(calls, pattern) for pattern in ordered]
    assert positions == sorted(positions)
    paused = calls[positions[4]]
    for scaled in of_kind("prod", "ScaledObject"):
        assert f"scaledobject.keda.sh/{scaled['metadata']['name']} " in paused
    for job in ("preflight", "receivers-stop", "migrate", "receivers-start"):
        assert any(re.match(rf"logs job/event-dispatcher-{job}-", call) for call in calls), "its log is shown"
    assert lines[-1] == "== deployed registry.example.com/event-dispatcher:0.1.0 to event-dispatcher-prod"


@pytest.mark.parametrize("step", ["stop", "pause", "migrate", "apply", "start"])
def test_a_failure_after_stop_starts_the_running_version_again(dry_run, step):
    code, lines, _ = dry_run("--dry-run", "prod", fail_at=step)

    assert code == 1
    recovery = cluster_calls(lines[lines.index("== FAILED: starting the receivers of PROD again") :])
    undone = [call for call in recovery if call.startswith("rollout undo ")]
    if step in ("apply", "start"):
        names = {f"deployment/{d['metadata']['name']}" for d in of_kind("prod", "Deployment")}
        assert {call.split()[2] for call in undone} == names
        assert len(consumers("prod")) + 1 == len(names)
    else:
        assert undone == [], "nothing was applied, nothing is undone"
    start = position(recovery, r"^create job event-dispatcher-receivers-start-")
    unpause = position(recovery, r"autoscaling\.keda\.sh/paused-$")
    assert start < unpause
    assert lines[-1] == "== deploy of prod failed (exit 1)"


@pytest.mark.parametrize("step", ["secret", "prepare", "preflight"])
def test_a_failure_before_stop_starts_nothing(dry_run, step):
    code, lines, _ = dry_run("--dry-run", "prod", fail_at=step)

    assert code == 1
    assert not any("receivers-start" in call or "receivers-stop" in call for call in cluster_calls(lines))


def test_an_unknown_environment_is_refused(dry_run):
    code, _, made = dry_run("--dry-run", "staging")

    assert code == 2
    assert made == []
