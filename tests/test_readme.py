"""The README documents every configuration variable and gives the two commands CI relies on."""

from pathlib import Path

from dispatcher_site.config import VARIABLES

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_variable():
    readme = (ROOT / "README.md").read_text()
    missing = [v.name for v in VARIABLES if f"| `{v.name}` |" not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    first_screen = readme.split("---")[0]
    assert "make run" in first_screen
    assert "make test" in first_screen
    assert "make test" in (ROOT / ".ci" / "run").read_text()
