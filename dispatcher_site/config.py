"""Every environment variable the service reads, parsed and cross-validated once at start-up.

`VARIABLES` is the single declaration of the configuration: name, type, default, meaning and
whether it is a secret. `load_config()` reads them all (with django-environ doing the parsing),
then `cross_validate()` checks the rules that span several variables. Any problem stops the
process with `ConfigurationError`, whose message names the variable and never its secret value.

Business code reads the result as `settings.DISPATCHER.<VARIABLE_NAME>`, never `os.environ`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

AZURITE_ACCOUNT_KEY = (
    # Azurite's documented, public development key: not a secret.
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    f"AccountKey={AZURITE_ACCOUNT_KEY};QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
)
NPG_PAYMENT_METHODS = ("CARDS", "PAYPAL", "BANCOMATPAY", "MYBANK", "SATISPAY", "APPLEPAY", "GOOGLEPAY")


class ConfigurationError(Exception):
    """The environment does not describe a runnable service. The message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str  # str, int, float, bool, list, json, db_url
    default: Any
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    section: str = ""


def _section(title: str, *variables: Variable) -> list[Variable]:
    return [Variable(**{**v.__dict__, "section": title}) for v in variables]


def _http_client(prefix: str, service: str, url_name: str = "", timeout_ms: int = 10000) -> list[Variable]:
    url_name = url_name or f"{prefix}_URI"
    return [
        Variable(url_name, "str", "", f"Base URL of the {service}; empty means not configured."),
        Variable(f"{prefix}_READ_TIMEOUT", "int", timeout_ms, f"{service} read timeout, ms.", minimum=1),
        Variable(f"{prefix}_CONNECTION_TIMEOUT", "int", timeout_ms, f"{service} connect timeout, ms.", minimum=1),
    ]


def _npg_psp_variables() -> list[Variable]:
    variables = []
    for method in NPG_PAYMENT_METHODS:
        variables += [
            Variable(
                f"NPG_{method}_PSP_KEYS", "json", {}, f"JSON object pspId → NPG api key for {method}.", secret=True
            ),
            Variable(f"NPG_{method}_PSP_LIST", "list", [], f"PSP ids that NPG_{method}_PSP_KEYS must cover."),
        ]
    return variables


VARIABLES: list[Variable] = [
    *_section(
        "Django and web",
        Variable("DJANGO_DEBUG", "bool", False, "Debug mode. Never on in production."),
        Variable(
            "DJANGO_SECRET_KEY", "str", "", "Django secret key; required (50+ chars) when debug is off.", secret=True
        ),
        Variable("DJANGO_ALLOWED_HOSTS", "list", ["localhost", "127.0.0.1", "[::1]"], "Host names served."),
        Variable("DJANGO_CSRF_TRUSTED_ORIGINS", "list", [], "Origins trusted for admin form posts."),
        Variable(
            "DJANGO_SECURE_SSL_REDIRECT",
            "bool",
            True,
            "Redirect HTTP to HTTPS when debug is off (health endpoints are exempt).",
        ),
        Variable("DJANGO_SECURE_HSTS_SECONDS", "int", 31536000, "HSTS max-age when debug is off.", minimum=0),
        Variable(
            "DJANGO_BEHIND_TLS_PROXY", "bool", False, "Trust X-Forwarded-Proto=https from a TLS-terminating proxy."
        ),
        Variable(
            "DATABASE_URL",
            "db_url",
            f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
            "Database URL: sqlite:///path or postgres://user:pass@host:port/name.",
            secret=True,
        ),
        Variable("DATABASE_CONN_MAX_AGE", "int", 60, "Seconds a database connection is reused.", minimum=0),
        Variable("DATABASE_CONNECT_TIMEOUT", "int", 5, "PostgreSQL connect timeout, seconds.", minimum=1),
        Variable("HEALTH_CHECK_TIMEOUT_SECONDS", "float", 2.0, "Timeout of each readiness check.", minimum=0.1),
        Variable(
            "LOG_LEVEL", "str", "INFO", "Root log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
        Variable("LOG_FORMAT", "str", "json", "json (one object per line) or text.", choices=("json", "text")),
        Variable("ENVIRONMENT", "str", "development", "Environment name, used in metric names and logs."),
    ),
    *_section(
        "Gunicorn",
        Variable("GUNICORN_BIND", "str", "0.0.0.0:8000", "Address the web server listens on."),
        Variable("GUNICORN_WORKERS", "int", 2, "Worker processes.", minimum=1),
        Variable("GUNICORN_THREADS", "int", 4, "Threads per worker.", minimum=1),
        Variable("GUNICORN_TIMEOUT", "int", 30, "Seconds before a silent worker is restarted.", minimum=1),
        Variable("GUNICORN_GRACEFUL_TIMEOUT", "int", 30, "Seconds workers get to finish on shutdown.", minimum=1),
        Variable("GUNICORN_KEEPALIVE", "int", 5, "Keep-alive seconds.", minimum=0),
    ),
    *_section(
        "Redis",
        Variable("REDIS_HOST", "str", "127.0.0.1", "Redis host."),
        Variable("REDIS_PORT", "int", 6379, "Redis port.", minimum=1, maximum=65535),
        Variable("REDIS_PASSWORD", "str", "", "Redis password.", secret=True),
        Variable("REDIS_SSL_ENABLED", "bool", False, "Use TLS to Redis."),
        Variable("REDIS_DB", "int", 0, "Redis database index.", minimum=0, maximum=15),
        Variable("REDIS_TIMEOUT_SECONDS", "float", 2.0, "Redis connect and socket timeout.", minimum=0.1),
    ),
    *_section(
        "Queues",
        Variable(
            "QUEUE_TRANSIENT_CONNECTION_STRING",
            "str",
            AZURITE_CONNECTION_STRING,
            "Storage connection string of the transient queues (default: local Azurite).",
            secret=True,
        ),
        Variable(
            "QUEUE_DEADLETTER_CONNECTION_STRING",
            "str",
            AZURITE_CONNECTION_STRING,
            "Storage connection string of the dead-letter queue (default: local Azurite).",
            secret=True,
        ),
        Variable("TRANSACTIONS_CLOSE_PAYMENT_QUEUE_NAME", "str", "transactions-close-payment-queue", "Queue."),
        Variable(
            "TRANSACTIONS_CLOSE_PAYMENT_RETRY_QUEUE_NAME", "str", "transactions-close-payment-retry-queue", "Queue."
        ),
        Variable("TRANSACTIONS_EXPIRATION_QUEUE_NAME", "str", "transactions-expiration-queue", "Queue."),
        Variable("TRANSACTIONS_REFUND_QUEUE_NAME", "str", "transactions-refund-queue", "Queue."),
        Variable("TRANSACTIONS_REFUND_RETRY_QUEUE_NAME", "str", "transactions-refund-retry-queue", "Queue."),
        Variable("TRANSACTIONS_NOTIFICATIONS_QUEUE_NAME", "str", "transactions-notifications-queue", "Queue."),
        Variable(
            "TRANSACTIONS_NOTIFICATIONS_RETRY_QUEUE_NAME", "str", "transactions-notifications-retry-queue", "Queue."
        ),
        Variable(
            "TRANSACTIONS_AUTHORIZATION_REQUESTED_QUEUE_NAME", "str", "transactions-auth-requested-queue", "Queue."
        ),
        Variable(
            "TRANSACTIONS_AUTHORIZATION_OUTCOME_WAITING_QUEUE_NAME",
            "str",
            "transactions-auth-outcome-waiting-queue",
            "Queue.",
        ),
        Variable(
            "TRANSACTIONS_DEAD_LETTER_QUEUE_NAME",
            "str",
            "transactions-dead-letter-queue",
            "Dead-letter queue (on QUEUE_DEADLETTER_CONNECTION_STRING).",
        ),
        Variable(
            "DIAGNOSTIC_PROBE_QUEUE_NAME",
            "str",
            "event-dispatcher-probe-queue",
            "Diagnostic queue whose handler only logs, counts and optionally records probes (queue key probe).",
        ),
        Variable("TRANSIENT_QUEUES_TTL_SECONDS", "int", 604800, "TTL of messages sent to transient queues.", minimum=1),
        Variable("DEAD_LETTER_QUEUE_TTL_SECONDS", "int", -1, "TTL of dead letters; -1 never expires.", minimum=-1),
        Variable("DEQUEUE_LIMIT", "int", 5, "A message dequeued more often than this is dead-lettered.", minimum=1),
        Variable("CONSUMER_BATCH_SIZE", "int", 32, "Messages received per poll.", minimum=1, maximum=32),
        Variable(
            "CONSUMER_VISIBILITY_TIMEOUT_SECONDS",
            "int",
            60,
            "Lease: how long a received message stays invisible to other consumers.",
            minimum=1,
        ),
        Variable(
            "CONSUMER_WORKER_THREADS",
            "int",
            8,
            "Messages of a batch handled at once by one consumer process (thread pool size).",
            minimum=1,
            maximum=64,
        ),
        Variable("CONSUMER_POLL_INTERVAL_SECONDS", "float", 1.0, "Pause after an empty poll.", minimum=0.0),
        Variable(
            "CONSUMER_MAX_POLL_INTERVAL_SECONDS", "float", 10.0, "Longest back-off while queues are empty.", minimum=0.0
        ),
    ),
    *_section(
        "Receiver control",
        Variable(
            "DEPLOYMENT_VERSION", "str", "PROD", "Deployment this process belongs to.", choices=("PROD", "STAGING")
        ),
        Variable(
            "REDIS_STREAM_EVENT_CONTROLLER_STREAM_KEY",
            "str",
            "event-dispatcher-commands",
            "Redis stream carrying START/STOP commands.",
        ),
        Variable(
            "RECEIVER_STATUS_REFRESH_SECONDS", "int", 10, "How often each process reports its receivers.", minimum=1
        ),
        Variable("RECEIVER_STATUS_TTL_SECONDS", "int", 60, "TTL of a process's status key.", minimum=1),
        Variable(
            "SECURITY_API_KEYS_SECURED_PATHS",
            "list",
            ["/event-dispatcher", "/service"],
            "Path prefixes that require x-api-key.",
        ),
        Variable("SECURITY_API_KEYS_PRIMARY", "str", "", "Primary x-api-key; required when debug is off.", secret=True),
        Variable("SECURITY_API_KEYS_SECONDARY", "str", "", "Secondary x-api-key (for rotation).", secret=True),
    ),
    *_section(
        "Retries and timing",
        Variable("REFUND_RETRY_EVENT_BASE_INTERVAL_SECONDS", "int", 600, "Refund retry base interval.", minimum=1),
        Variable("REFUND_RETRY_EVENT_MAX_ATTEMPTS", "int", 5, "Refund retry attempts.", minimum=1),
        Variable(
            "CLOSE_PAYMENT_RETRY_EVENT_BASE_INTERVAL_SECONDS", "int", 30, "Closure retry base interval.", minimum=1
        ),
        Variable("CLOSE_PAYMENT_RETRY_EVENT_MAX_ATTEMPTS", "int", 3, "Closure retry attempts.", minimum=1),
        Variable(
            "CLOSE_PAYMENT_RETRY_EVENT_PAYMENT_TOKEN_VALIDITY_TIME_OFFSET",
            "int",
            10,
            "Seconds kept free before the payment token expires (closure retries).",
            minimum=0,
        ),
        Variable(
            "NOTIFICATION_RETRY_EVENT_BASE_INTERVAL_SECONDS", "int", 600, "Receipt mail retry base interval.", minimum=1
        ),
        Variable("NOTIFICATION_RETRY_EVENT_MAX_ATTEMPTS", "int", 3, "Receipt mail retry attempts.", minimum=1),
        Variable(
            "AUTHORIZATION_OUTCOME_FIRST_ATTEMPT_DELAY_SECONDS",
            "int",
            175,
            "First NPG getState no earlier than this after the authorization request.",
            minimum=0,
        ),
        Variable(
            "AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS",
            "int",
            80,
            "Authorization outcome retry base interval.",
            minimum=1,
        ),
        Variable(
            "AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS", "int", 3, "Authorization outcome attempts.", minimum=1
        ),
        Variable(
            "AUTHORIZATION_OUTCOME_WAITING_EVENT_PAYMENT_TOKEN_VALIDITY_TIME_OFFSET_SECONDS",
            "int",
            10,
            "Seconds kept free before the payment token expires (outcome retries).",
            minimum=0,
        ),
        Variable("SEND_PAYMENT_RESULT_TIMEOUT_SECONDS", "int", 3900, "Wait for Nodo's sendPaymentResult.", minimum=1),
        Variable(
            "SEND_PAYMENT_RESULT_EXPIRATION_OFFSET_SECONDS",
            "int",
            5,
            "Give up when less than this remains of the sendPaymentResult wait.",
            minimum=0,
        ),
        Variable(
            "NPG_REFUND_DELAY_FROM_AUTH_REQUEST_MINUTES",
            "int",
            10,
            "No NPG refund of an unknown outcome before this after the authorization request.",
            minimum=0,
        ),
        Variable("NPG_REFUND_EVENT_PROCESSING_DELAY_SECONDS", "int", 10, "Margin added to that delay.", minimum=0),
        Variable(
            "TRANSACTIONSVIEW_UPDATE_ENABLED",
            "bool",
            True,
            "Accepted for compatibility; the view is always maintained here (spec Part A §1).",
        ),
        Variable("USER_STATS_SERVICE_ENABLE_SAVE_LAST_USAGE", "bool", True, "Save the last used payment method."),
    ),
    *_section(
        "External services",
        *_http_client("NODO", "Nodo (node for eCommerce v2)", timeout_ms=14000),
        Variable("NODO_ECOMMERCE_CLIENT_ID", "str", "ecomm", "clientId query parameter of closePayment."),
        Variable("NODO_NODEFORECOMMERCE_API_KEY", "str", "", "Nodo subscription key.", secret=True),
        *_http_client("NPG", "NPG payment gateway"),
        Variable("NPG_API_KEY", "str", "", "Default NPG api key.", secret=True),
        *_npg_psp_variables(),
        *_http_client("NOTIFICATIONS_SERVICE", "notifications service"),
        Variable("NOTIFICATIONS_SERVICE_API_KEY", "str", "", "Notifications service key.", secret=True),
        *_http_client("TRANSACTIONS_SERVICE", "transactions service"),
        Variable("TRANSACTIONS_SERVICE_API_KEY", "str", "", "Transactions service key.", secret=True),
        *_http_client("PERSONAL_DATA_VAULT", "personal data vault", url_name="PERSONAL_DATA_VAULT_API_BASE_PATH"),
        Variable("ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY", "str", "", "PDV key (e-mails).", secret=True),
        Variable("WALLET_SESSION_PERSONAL_DATA_VAULT_API_KEY", "str", "", "PDV key (user ids).", secret=True),
        *_http_client("NODE_FORWARDER", "node forwarder", url_name="NODE_FORWARDER_URL"),
        Variable("NODE_FORWARDER_API_KEY", "str", "", "Node forwarder key.", secret=True),
        Variable(
            "REDIRECT_URL_CONFIGURATION",
            "json",
            [],
            'JSON list of {"url", "matchingCriteria": {PSP_ID, TOUCHPOINT, PAYMENT_TYPE_CODE, '
            "PSP_CHANNEL_ID}} for redirect PSP back ends.",
        ),
        Variable(
            "REDIRECT_EXPECTED_MATCHING_CRITERIA",
            "json",
            [],
            "JSON list of criteria maps that must each resolve to exactly one redirect URL.",
        ),
        *_http_client("USER_STATS", "user stats service", url_name="USER_STATS_URL"),
        Variable("USER_STATS_API_KEY", "str", "", "User stats key.", secret=True),
    ),
    *_section(
        "Notifications",
        Variable(
            "SENDING_NOTIFICATIONS_TIMEOUT_PERIOD",
            "int",
            259200,
            "Seconds after which created/sending/pending notifications time out.",
            minimum=1,
        ),
        Variable("FIRETEXT_CALLBACK_TOKEN", "str", "", "When set, Firetext callbacks must carry it.", secret=True),
        Variable("MMG_CALLBACK_TOKEN", "str", "", "When set, MMG callbacks must carry it.", secret=True),
        Variable("SES_CALLBACK_TOKEN", "str", "", "When set, SES callbacks must carry it.", secret=True),
        Variable("SES_CALLBACK_ALLOWED_TOPIC_ARNS", "list", [], "When set, SES callbacks only from these topics."),
    ),
    *_section(
        "Observability",
        Variable("STATSD_ENABLED", "bool", False, "Send statsd metrics (no socket is opened when off)."),
        Variable("STATSD_HOST", "str", "localhost", "statsd host."),
        Variable("STATSD_PORT", "int", 8125, "statsd UDP port.", minimum=1, maximum=65535),
        Variable("STATSD_PREFIX", "str", "", "statsd client prefix, before the environment namespace."),
        Variable(
            "STATSD_NAMESPACE",
            "str",
            "notifications.api",
            "Namespace after the environment: <ENVIRONMENT>.<STATSD_NAMESPACE>.<stat>.",
        ),
        Variable("OTEL_SERVICE_NAME", "str", "event-dispatcher", "OpenTelemetry service name."),
        Variable(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "str",
            "",
            "OTLP/HTTP endpoint; when empty and OTEL_TRACES_EXPORTER is unset, nothing is exported.",
        ),
    ),
]


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
    if "DATABASE_URL" in values and values["DATABASE_URL"]["ENGINE"] not in (
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
    problems += _npg_key_problems(values)
    problems += _redirect_shape_problems(values)
    return problems


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
