"""The declaration of every environment variable the service reads: name, type, default, meaning,
whether it is a secret, bounds. `dispatcher_site.config` parses and validates them; the README's
configuration reference is generated from this table (`manage.py check_config --markdown`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        Variable(
            "GUNICORN_CONTROL_SOCKET",
            "str",
            "",
            "Path of this instance's gunicornc control socket; empty: none (gunicorn's default path is shared "
            "by every instance of a user).",
        ),
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
            "NOTIFICATIONS_SEND_SMS_QUEUE_NAME",
            "str",
            "notifications-send-sms-queue",
            "Queue of SMS deliveries to providers (queue key send-sms).",
        ),
        Variable(
            "NOTIFICATIONS_SEND_EMAIL_QUEUE_NAME",
            "str",
            "notifications-send-email-queue",
            "Queue of e-mail deliveries to providers (queue key send-email).",
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
        Variable(
            "CONSUMER_HEARTBEAT_FILE",
            "str",
            "",
            "File consume_queue rewrites every few seconds for `manage.py consumer_alive` (a liveness probe); "
            "empty: none.",
        ),
    ),
    *_section(
        "Outbox",
        Variable(
            "OUTBOX_RELAY_GRACE_SECONDS",
            "int",
            60,
            "Age after which any consumer relays an unsent follow-up (longer than a queue send can take).",
            minimum=1,
        ),
        Variable(
            "OUTBOX_RELAY_INTERVAL_SECONDS", "float", 5.0, "How often each consumer looks for unsent rows.", minimum=0.1
        ),
        Variable("OUTBOX_RELAY_BATCH_SIZE", "int", 100, "Rows one relay pass claims at most.", minimum=1, maximum=1000),
        Variable(
            "OUTBOX_RELAY_MAX_BACKOFF_SECONDS",
            "int",
            300,
            "Longest wait before a row the queue service could not take (an outage) is tried again.",
            minimum=1,
        ),
        Variable(
            "OUTBOX_RETENTION_SECONDS",
            "int",
            86400,
            "How long sent rows and the marks of handled messages are kept before they are pruned.",
            minimum=60,
        ),
        Variable(
            "OUTBOX_DEGRADED_AGE_SECONDS",
            "int",
            300,
            "Readiness reports the outbox degraded when its oldest unsent row is older than this.",
            minimum=1,
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
        "Operator console",
        Variable(
            "CONSOLE_TIME_ZONE",
            "str",
            "Europe/Rome",
            "IANA time zone in which the admin shows times (its name is shown beside them).",
        ),
        Variable(
            "CONSOLE_STUCK_TRANSACTION_MINUTES",
            "int",
            90,
            "A transaction in a transient status for longer than this counts as stuck on the dashboard.",
            minimum=1,
        ),
        Variable(
            "CONSOLE_REFRESH_SECONDS", "int", 15, "How often the admin dashboard reads its figures again.", minimum=2
        ),
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
            "STATISTICS_COUNTER_SLOTS",
            "int",
            8,
            "Rows a service's daily statistics are spread over, so concurrent receipts do not wait for one row.",
            minimum=1,
            maximum=64,
        ),
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
        Variable(
            "SES_CALLBACK_ALLOWED_TOPIC_ARNS",
            "list",
            [],
            "When set, SES callbacks only from these topics; SNS subscriptions are confirmed only for these.",
        ),
        Variable(
            "SNS_HOST_PATTERN",
            "str",
            r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?",
            "Regular expression the host of an SNS SigningCertURL or SubscribeURL must match in full (https "
            "only); the default allows AWS's SNS hosts only.",
        ),
        Variable(
            "SNS_CONNECTION_TIMEOUT", "int", 5000, "SNS certificate and SubscribeURL connect timeout, ms.", minimum=1
        ),
        Variable("SNS_READ_TIMEOUT", "int", 5000, "SNS certificate and SubscribeURL read timeout, ms.", minimum=1),
    ),
    *_section(
        "Sending notifications",
        Variable(
            "NOTIFY_EMAIL_DOMAIN",
            "str",
            "notifications.localhost",
            'Domain of every From address: "<service name>" <<local part of the service\'s email_from>@<domain>>; '
            "SES must have it verified.",
        ),
        Variable(
            "SMS_DEFAULT_SENDER",
            "str",
            "NOTIFY",
            "SMS sender of services without their own (at most 11 characters).",
        ),
        Variable(
            "NOTIFICATION_SEND_MAX_ATTEMPTS",
            "int",
            5,
            "Provider attempts for one notification; after the last failed one it is technical-failure.",
            minimum=1,
            maximum=20,
        ),
        Variable(
            "NOTIFICATION_SEND_RETRY_BASE_SECONDS",
            "int",
            30,
            "Wait before the second attempt after a provider error; each later attempt waits twice as long.",
            minimum=1,
        ),
        Variable(
            "NOTIFICATION_SEND_CLAIM_SECONDS",
            "int",
            60,
            "How long a consumer holds a notification it is sending; no other consumer sends it meanwhile "
            "(longer than any provider's connect + read timeout).",
            minimum=1,
        ),
        Variable(
            "NOTIFICATION_SEND_NO_PROVIDER_WAIT_SECONDS",
            "int",
            60,
            "When no provider of a notification's type is active, its delivery looks again after this.",
            minimum=1,
        ),
        Variable(
            "SIMULATE_UNCONFIGURED_PROVIDERS",
            "bool",
            False,
            "Development only: a provider whose variables are not set is simulated as for a test key "
            "(make run turns it on).",
        ),
        *_http_client("FIRETEXT", "Firetext SMS API", url_name="FIRETEXT_URL"),
        Variable(
            "FIRETEXT_API_KEY",
            "str",
            "",
            "Firetext API key; Firetext is configured when URL and key are set.",
            secret=True,
        ),
        *_http_client("MMG", "MMG SMS API", url_name="MMG_URL"),
        Variable(
            "MMG_USERNAME", "str", "", "MMG basic-auth user; MMG is configured when URL, user and password are set."
        ),
        Variable("MMG_PASSWORD", "str", "", "MMG basic-auth password.", secret=True),
        Variable("SES_REGION", "str", "", "AWS region of SES (e.g. eu-west-1); SES is configured when it is set."),
        Variable("SES_ENDPOINT_URL", "str", "", "SES endpoint; empty means AWS's own for the region."),
        Variable(
            "SES_ACCESS_KEY_ID", "str", "", "AWS access key id for SES; empty uses boto3's credential chain (roles)."
        ),
        Variable("SES_SECRET_ACCESS_KEY", "str", "", "AWS secret access key for SES.", secret=True),
        Variable("SES_READ_TIMEOUT", "int", 10000, "SES read timeout, ms.", minimum=1),
        Variable("SES_CONNECTION_TIMEOUT", "int", 10000, "SES connect timeout, ms.", minimum=1),
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
            "OTEL_TRACES_EXPORTER",
            "str",
            "",
            "Standard OpenTelemetry variable; any value but empty or none turns the OTLP/HTTP exporter on.",
        ),
        Variable(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "str",
            "",
            "OTLP/HTTP endpoint; when empty and OTEL_TRACES_EXPORTER is unset, nothing is exported.",
        ),
    ),
]
