"""Every environment variable the service reads, parsed and cross-validated once at start-up.

The variables are declared in `dispatcher_site.variables`. `load_config()` reads them all (with
django-environ doing the parsing), then `cross_validate()` checks the rules that span several
variables. Any problem stops the process with `ConfigurationError`, whose message names the variable
and never its secret value.

Business code reads the result as `settings.DISPATCHER.<VARIABLE_NAME>`, never `os.environ`.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

import environ

from dispatcher_site.variables import (  # noqa: F401  (re-exported: the rest of the project imports them from here)
    AZURITE_ACCOUNT_KEY,
    AZURITE_CONNECTION_STRING,
    BASE_DIR,
    NPG_PAYMENT_METHODS,
    VAR_DIR,
    VARIABLES,
    Variable,
)


class ConfigurationError(Exception):
    """The environment does not describe a runnable service. The message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


_BOOLEAN_STRINGS = (*environ.Env.BOOLEAN_TRUE_STRINGS, "false", "off", "no", "n", "0", "")


def _read(env: environ.Env, variable: Variable) -> Any:
    raw = env.ENVIRON.get(variable.name)
    # django-environ reads any unknown word as False; a typo must not silently switch a flag off.
    if variable.kind == "bool" and raw is not None and raw.strip().lower() not in _BOOLEAN_STRINGS:
        raise ValueError(variable.name)
    reader = {
        "str": env.str,
        "int": env.int,
        "float": env.float,
        "bool": env.bool,
        "list": env.list,
        "json": env.json,
        "db_url": env.db_url,
    }[variable.kind]
    return reader(variable.name, default=variable.default)


def _check_bounds(variable: Variable, value: Any) -> str | None:
    if variable.choices and value not in variable.choices:
        return f"{variable.name} must be one of {', '.join(variable.choices)}"
    if variable.minimum is not None and value < variable.minimum:
        return f"{variable.name} must be at least {variable.minimum:g}"
    if variable.maximum is not None and value > variable.maximum:
        return f"{variable.name} must be at most {variable.maximum:g}"
    return None


_EXPECTED_KIND = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true/false)",
    "list": "a comma-separated list",
    "json": "valid JSON",
    "db_url": "a database URL",
}


def _parse_all(environment: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    env = environ.Env()
    env.ENVIRON = dict(environment)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for variable in VARIABLES:
        try:
            value = _read(env, variable)
        except Exception:  # noqa: BLE001 - every parse failure becomes a named problem, never a value
            expected = _EXPECTED_KIND[variable.kind]
            problems.append(f"{variable.name} is not {expected}")
            continue
        problem = _check_bounds(variable, value)
        if problem:
            problems.append(problem)
        values[variable.name] = value
    return values, problems


def cross_validate(values: Mapping[str, Any]) -> list[str]:
    """Rules that involve more than one variable, or the shape of a JSON value."""
    problems: list[str] = []
    if "DATABASE_URL" in values and values["DATABASE_URL"].get("ENGINE") not in (
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
    ):
        problems.append("DATABASE_URL must be a sqlite:// or postgres:// URL")
    if not values.get("DJANGO_DEBUG"):
        secret_key = values.get("DJANGO_SECRET_KEY", "")
        if len(secret_key) < 50 or len(set(secret_key)) < 5:
            problems.append(
                "DJANGO_SECRET_KEY is required (at least 50 characters, 5 distinct) when DJANGO_DEBUG is off"
            )
        if not values.get("SECURITY_API_KEYS_PRIMARY"):
            problems.append("SECURITY_API_KEYS_PRIMARY is required when DJANGO_DEBUG is off")
    if values.get("CONSUMER_POLL_INTERVAL_SECONDS", 0) > values.get("CONSUMER_MAX_POLL_INTERVAL_SECONDS", 0):
        problems.append("CONSUMER_POLL_INTERVAL_SECONDS must not exceed CONSUMER_MAX_POLL_INTERVAL_SECONDS")
    try:
        re.compile(values.get("SNS_HOST_PATTERN", ""))
    except re.error:
        problems.append("SNS_HOST_PATTERN is not a regular expression")
    problems += _npg_key_problems(values)
    problems += _redirect_shape_problems(values)
    problems += _time_zone_problems(values)
    problems += _sending_problems(values)
    return problems


# Providers whose (connect + read) timeout a send claim must outlast.
SENDING_PROVIDER_PREFIXES = ("FIRETEXT", "MMG", "SES")
# The longest visibility delay the queue service accepts (7 days).
_LONGEST_QUEUE_DELAY_SECONDS = 7 * 24 * 3600


def _sending_problems(values: Mapping[str, Any]) -> list[str]:
    """A send claim must outlast every provider call, and the retry schedule must fit on a queue."""
    problems = []
    claim = values.get("NOTIFICATION_SEND_CLAIM_SECONDS")
    for prefix in SENDING_PROVIDER_PREFIXES:
        timeouts = [values.get(f"{prefix}_CONNECTION_TIMEOUT"), values.get(f"{prefix}_READ_TIMEOUT")]
        if claim is None or None in timeouts:
            continue
        if claim * 1000 <= sum(timeouts):
            problems.append(
                f"NOTIFICATION_SEND_CLAIM_SECONDS ({claim} s) must exceed {prefix}_CONNECTION_TIMEOUT + "
                f"{prefix}_READ_TIMEOUT ({sum(timeouts)} ms)"
            )
    base, attempts = values.get("NOTIFICATION_SEND_RETRY_BASE_SECONDS"), values.get("NOTIFICATION_SEND_MAX_ATTEMPTS")
    ttl = values.get("TRANSIENT_QUEUES_TTL_SECONDS")
    if base and attempts and attempts > 1 and ttl:
        longest = base * 2 ** (attempts - 2)
        if longest > _LONGEST_QUEUE_DELAY_SECONDS or longest >= ttl:
            problems.append(
                f"the last send retry would wait {longest} s (NOTIFICATION_SEND_RETRY_BASE_SECONDS x 2^"
                f"(NOTIFICATION_SEND_MAX_ATTEMPTS - 2)): more than 7 days or not shorter than "
                "TRANSIENT_QUEUES_TTL_SECONDS"
            )
    return problems


def _time_zone_problems(values: Mapping[str, Any]) -> list[str]:
    name = values.get("CONSOLE_TIME_ZONE")
    if name is None:
        return []
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f"CONSOLE_TIME_ZONE {name!r} is not an IANA time zone (e.g. Europe/Rome, UTC)"]
    return []


def _npg_key_problems(values: Mapping[str, Any]) -> list[str]:
    problems = []
    for method in NPG_PAYMENT_METHODS:
        keys_name = f"NPG_{method}_PSP_KEYS"
        if keys_name not in values:
            continue
        keys = values[keys_name]
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            problems.append(f"{keys_name}: Invalid json configuration map")
            continue
        missing = [psp for psp in values.get(f"NPG_{method}_PSP_LIST", []) if psp not in keys]
        if missing:
            problems.append(f"{keys_name}: Misconfigured api keys. Missing keys: {missing}")
    return problems


def _redirect_shape_problems(values: Mapping[str, Any]) -> list[str]:
    problems = []
    entries = values.get("REDIRECT_URL_CONFIGURATION", [])
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("url"), str) and isinstance(e.get("matchingCriteria"), dict)
        for e in entries
    ):
        problems.append('REDIRECT_URL_CONFIGURATION must be a JSON list of {"url", "matchingCriteria"} objects')
    expected = values.get("REDIRECT_EXPECTED_MATCHING_CRITERIA", [])
    if not isinstance(expected, list) or not all(isinstance(e, dict) for e in expected):
        problems.append("REDIRECT_EXPECTED_MATCHING_CRITERIA must be a JSON list of objects")
    return problems


class Config:
    """The parsed configuration: read-only attributes named like the environment variables."""

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no configuration variable {name}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("configuration is read-only; use replace()")

    def replace(self, **changes: Any) -> Config:
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"no configuration variables {sorted(unknown)}")
        return Config({**self._values, **changes})

    def described(self) -> Iterable[tuple[Variable, str]]:
        """Each variable with its effective value as text, secrets masked."""
        for variable in VARIABLES:
            yield variable, mask(variable, self._values[variable.name])


def mask(variable: Variable, value: Any) -> str:
    if not variable.secret:
        return repr(value) if variable.kind in ("list", "json") else str(value)
    if variable.kind == "db_url":
        shown = {k: value.get(k) for k in ("ENGINE", "HOST", "PORT", "NAME")}
        return f"{shown} (password {'set' if value.get('PASSWORD') else 'not set'})"
    if variable.kind == "json":
        return f"<secret: {len(value)} entries>" if isinstance(value, dict) else "<secret>"
    return "<secret: set>" if value else "<not set>"


def load_config(environment: Mapping[str, str]) -> Config:
    values, problems = _parse_all(environment)
    problems += cross_validate(values)
    if problems:
        raise ConfigurationError(problems)
    return Config(values)
