"""Django settings, derived from `dispatcher_site.config` (the only place that reads the environment)."""

import os

from dispatcher_site.config import BASE_DIR, load_config

DISPATCHER = load_config(os.environ)

DEBUG = DISPATCHER.DJANGO_DEBUG
# In debug mode without a key, a fixed development key keeps sessions working across restarts.
SECRET_KEY = DISPATCHER.DJANGO_SECRET_KEY or "django-insecure-development-only-key-never-used-in-production"
ALLOWED_HOSTS = DISPATCHER.DJANGO_ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = DISPATCHER.DJANGO_CSRF_TRUSTED_ORIGINS

INSTALLED_APPS = [
    # Django's admin with the operator console's site (dashboard index, one time zone).
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "dispatcher_site",
    "receivers",
    "transactions",
    "notifications",
    "console",
]

MIDDLEWARE = [
    "dispatcher_site.request_id.RequestIdMiddleware",
    "dispatcher_site.access_log.AccessLogMiddleware",
    "dispatcher_site.instrumentation.RequestMetricsMiddleware",
    "dispatcher_site.api_errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dispatcher_site.api_keys.ApiKeyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "dispatcher_site.csrf.AdminCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# AdminCsrfViewMiddleware is Django's CsrfViewMiddleware for every non-API path; the deploy check only
# recognises Django's own class by name.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

ROOT_URLCONF = "dispatcher_site.urls"
WSGI_APPLICATION = "dispatcher_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict:
    database = dict(DISPATCHER.DATABASE_URL)
    database["CONN_MAX_AGE"] = DISPATCHER.DATABASE_CONN_MAX_AGE
    # No `SELECT 1` before each request or message: a connection that failed is closed after the error
    # (Django does so at the end of a request that had one; consumers in `drop_failed_connection`).
    database["CONN_HEALTH_CHECKS"] = False
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # Consumers run as separate processes: tests need a file, not an in-memory database.
        database["TEST"] = {"NAME": str(BASE_DIR / "var" / "test-db.sqlite3")}
        # Writers queue for the lock at BEGIN instead of failing on a read-to-write upgrade; the WAL
        # journal lets readers go on while one writes, and synchronous=NORMAL makes a commit an append
        # to the log instead of an fsync of the database (still durable after an application crash).
        database["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        database["OPTIONS"] = {"connect_timeout": DISPATCHER.DATABASE_CONNECT_TIMEOUT}
    return database


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = "{scheme}://{auth}{host}:{port}/{db}".format(
    scheme="rediss" if DISPATCHER.REDIS_SSL_ENABLED else "redis",
    auth=f":{DISPATCHER.REDIS_PASSWORD}@" if DISPATCHER.REDIS_PASSWORD else "",
    host=DISPATCHER.REDIS_HOST,
    port=DISPATCHER.REDIS_PORT,
    db=DISPATCHER.REDIS_DB,
)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "event-dispatcher",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": DISPATCHER.REDIS_TIMEOUT_SECONDS,
            "SOCKET_TIMEOUT": DISPATCHER.REDIS_TIMEOUT_SECONDS,
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Admin static files are served from the app directories without collectstatic (one container, one command).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Security: on when debug is off; health probes arrive over plain HTTP from the orchestrator.
if not DEBUG:
    SECURE_SSL_REDIRECT = DISPATCHER.DJANGO_SECURE_SSL_REDIRECT
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_HSTS_SECONDS = DISPATCHER.DJANGO_SECURE_HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
if DISPATCHER.DJANGO_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "dispatcher_site.request_id.RequestIdLogFilter"},
        "personal_data": {"()": "dispatcher_site.pii.PersonalDataLogFilter"},
    },
    "formatters": {
        "json": {"()": "dispatcher_site.json_logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": DISPATCHER.LOG_FORMAT,
            "filters": ["request_id", "personal_data"],
        }
    },
    "root": {"handlers": ["stdout"], "level": DISPATCHER.LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The Azure SDK logs every HTTP request and response at INFO.
        "azure": {"level": "WARNING"},
    },
}
