"""The migrations job of a deploy applies everything the models need: no model change lacks its migration."""

import subprocess

import pytest


@pytest.mark.slow
def test_every_model_change_has_its_migration(subprocess_env, manage_py):
    result = subprocess.run(
        [*manage_py, "makemigrations", "--check", "--dry-run"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
