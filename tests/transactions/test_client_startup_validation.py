"""Start-up checks of the transactions app (spec §12, §6): run as real `manage.py` processes."""

import json
import os
import subprocess

NPG_PSP_SECRET = "psp-secret-key-never-printed"


def run_check(manage_py, **variables):
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    environment = {**keep, "DJANGO_DEBUG": "1", **variables}
    return subprocess.run([*manage_py, "check"], env=environment, capture_output=True, text=True, timeout=60)


def test_the_default_configuration_starts_without_warning(manage_py):
    result = run_check(manage_py)

    assert result.returncode == 0, result.stderr
    assert "Authorization outcome attempts" not in result.stdout + result.stderr


def test_unresolvable_redirects_and_a_missing_npg_key_stop_the_start_naming_each_problem(manage_py):
    configuration = [
        {"url": "https://klrn-a.example", "matchingCriteria": {"PAYMENT_TYPE_CODE": "KLRN", "PSP_CHANNEL_ID": "A"}},
        {"url": "https://klrn-b.example", "matchingCriteria": {"PAYMENT_TYPE_CODE": "KLRN", "PSP_CHANNEL_ID": "B"}},
    ]
    result = run_check(
        manage_py,
        REDIRECT_URL_CONFIGURATION=json.dumps(configuration),
        REDIRECT_EXPECTED_MATCHING_CRITERIA='[{"PAYMENT_TYPE_CODE":"RFPB"},{"PAYMENT_TYPE_CODE":"KLRN"}]',
        NPG_CARDS_PSP_LIST="BCITITMM",
        NPG_CARDS_PSP_KEYS=json.dumps({"BCITITMM": NPG_PSP_SECRET}),
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "No configuration found for PAYMENT_TYPE_CODE=RFPB" in result.stderr
    assert "Multiple configurations found for PAYMENT_TYPE_CODE=KLRN" in result.stderr
    assert "NPG_API_KEY is required when an NPG PSP list is set (NPG_CARDS_PSP_LIST)" in result.stderr
    assert NPG_PSP_SECRET not in result.stdout + result.stderr


def test_a_valid_configuration_starts_and_warns_about_a_short_outcome_schedule(manage_py):
    configuration = [{"url": "https://rico.example", "matchingCriteria": {"PAYMENT_TYPE_CODE": "RICO"}}]
    result = run_check(
        manage_py,
        REDIRECT_URL_CONFIGURATION=json.dumps(configuration),
        REDIRECT_EXPECTED_MATCHING_CRITERIA='[{"PAYMENT_TYPE_CODE":"RICO"}]',
        NPG_CARDS_PSP_LIST="BCITITMM",
        NPG_CARDS_PSP_KEYS=json.dumps({"BCITITMM": NPG_PSP_SECRET}),
        NPG_API_KEY="default-npg-key",
        AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS="10",
        AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS="3",
    )

    assert result.returncode == 0, result.stderr
    warnings = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(w["log.level"], w["log.logger"]) for w in warnings] == [("WARNING", "transactions.apps")]
    assert warnings[0]["message"] == (
        "The last authorization outcome attempt comes at 90 s, before the 300 s an NPG GDI check may take: "
        "set AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS to at least 80"
    )
    assert NPG_PSP_SECRET not in result.stdout + result.stderr
