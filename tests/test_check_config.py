"""`manage.py check_config` and `check --deploy`, run as real processes with chosen environments."""

import subprocess

from dispatcher_site.config import VARIABLES

PRODUCTION_LIKE = {
    "DJANGO_SECRET_KEY": "production-like-secret-key-0123456789-abcdefghijklmnop",
    "SECURITY_API_KEYS_PRIMARY": "primary-secret-api-key",
    "DJANGO_ALLOWED_HOSTS": "dispatcher.example.org",
    "REDIS_PASSWORD": "redis-secret-password",
}


def run_manage(manage_py, environment, *arguments):
    return subprocess.run([*manage_py, *arguments], env=environment, capture_output=True, text=True, timeout=60)


def clean_environment(**extra):
    import os

    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return {**keep, **extra}


def test_prints_every_variable_with_secrets_masked(manage_py):
    result = run_manage(manage_py, clean_environment(**PRODUCTION_LIKE), "check_config")
    assert result.returncode == 0, result.stderr
    for variable in VARIABLES:
        assert f"{variable.name}=" in result.stdout
    for secret in (
        "production-like-secret-key-0123456789-abcdefghijklmnop",
        "primary-secret-api-key",
        "redis-secret-password",
    ):
        assert secret not in result.stdout
    assert "Configuration is valid." in result.stdout


def test_invalid_configuration_exits_non_zero_naming_the_variable(manage_py):
    result = run_manage(manage_py, clean_environment(**PRODUCTION_LIKE, REDIS_PORT="many"), "check_config")
    assert result.returncode != 0
    assert "REDIS_PORT is not an integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_key_refuses_to_start(manage_py):
    result = run_manage(manage_py, clean_environment(SECURITY_API_KEYS_PRIMARY="x"), "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_check_deploy_is_clean_with_production_like_variables(manage_py):
    result = run_manage(manage_py, clean_environment(**PRODUCTION_LIKE), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_reference_table_lists_every_variable(manage_py):
    result = run_manage(manage_py, clean_environment(DJANGO_DEBUG="1"), "check_config", "--markdown")
    assert result.returncode == 0, result.stderr
    for variable in VARIABLES:
        assert f"| `{variable.name}` |" in result.stdout
