"""The configuration module: defaults, parsing errors that name the variable, no secret ever printed."""

import pytest

from dispatcher_site.config import VARIABLES, ConfigurationError, load_config

DEVELOPMENT = {"DJANGO_DEBUG": "true"}
PRODUCTION_LIKE = {
    "DJANGO_SECRET_KEY": "config-test-secret-key-0123456789-abcdefghijklmnopq",
    "SECURITY_API_KEYS_PRIMARY": "primary-key",
}


def problems_for(environment: dict) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_config(environment)
    return raised.value.problems


def test_debug_defaults_need_no_environment_beyond_debug():
    config = load_config(DEVELOPMENT)
    assert config.DATABASE_URL["ENGINE"] == "django.db.backends.sqlite3"
    assert config.DATABASE_URL["NAME"].endswith("var/db.sqlite3")
    assert "127.0.0.1:10001" in config.QUEUE_TRANSIENT_CONNECTION_STRING
    assert (config.REDIS_HOST, config.REDIS_PORT) == ("127.0.0.1", 6379)
    assert config.DEAD_LETTER_QUEUE_TTL_SECONDS == -1
    assert config.DEPLOYMENT_VERSION == "PROD"


def test_debug_is_off_unless_turned_on():
    assert load_config(PRODUCTION_LIKE).DJANGO_DEBUG is False


def test_secret_key_and_api_key_required_when_debug_is_off():
    problems = problems_for({})
    assert any(p.startswith("DJANGO_SECRET_KEY is required") for p in problems)
    assert any(p.startswith("SECURITY_API_KEYS_PRIMARY is required") for p in problems)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("REDIS_PORT", "six", "REDIS_PORT is not an integer"),
        ("REDIS_PORT", "70000", "REDIS_PORT must be at most 65535"),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG is not a boolean (true/false)"),
        ("DEPLOYMENT_VERSION", "CANARY", "DEPLOYMENT_VERSION must be one of PROD, STAGING"),
        ("CONSUMER_BATCH_SIZE", "33", "CONSUMER_BATCH_SIZE must be at most 32"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL must be a sqlite:// or postgres:// URL"),
        ("DATABASE_URL", "", "DATABASE_URL must be a sqlite:// or postgres:// URL"),
        ("REDIRECT_URL_CONFIGURATION", '{"url": 1}', "REDIRECT_URL_CONFIGURATION must be a JSON list"),
        ("HEALTH_CHECK_TIMEOUT_SECONDS", "0", "HEALTH_CHECK_TIMEOUT_SECONDS must be at least 0.1"),
    ],
)
def test_bad_value_is_named(variable, value, expected):
    problems = problems_for({**DEVELOPMENT, variable: value})
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once():
    problems = problems_for({**DEVELOPMENT, "REDIS_PORT": "x", "DEQUEUE_LIMIT": "0"})
    assert len(problems) == 2


def test_npg_keys_must_cover_their_psp_list_and_are_never_printed():
    secret = "very-secret-npg-key"
    environment = {
        **DEVELOPMENT,
        "NPG_CARDS_PSP_KEYS": f'{{"PSP1": "{secret}"}}',
        "NPG_CARDS_PSP_LIST": "PSP1,PSP2",
        "NPG_PAYPAL_PSP_KEYS": f'{{"PSP1": "{secret}"',
    }
    with pytest.raises(ConfigurationError) as raised:
        load_config(environment)
    message = str(raised.value)
    assert "NPG_CARDS_PSP_KEYS: Misconfigured api keys. Missing keys: ['PSP2']" in message
    assert "NPG_PAYPAL_PSP_KEYS is not valid JSON" in message
    assert secret not in message


def test_secret_values_are_masked_in_the_description():
    config = load_config(
        {**PRODUCTION_LIKE, "REDIS_PASSWORD": "hunter2-redis", "DATABASE_URL": "postgres://app:pg-secret@db:5432/app"}
    )
    described = {variable.name: shown for variable, shown in config.described()}
    text = "\n".join(described.values())
    assert "hunter2-redis" not in text
    assert "pg-secret" not in text
    assert "config-test-secret-key" not in text
    assert described["REDIS_PASSWORD"] == "<secret: set>"
    assert "password set" in described["DATABASE_URL"]
    assert described["NOTIFICATIONS_SERVICE_API_KEY"] == "<not set>"


def test_config_is_read_only_and_replace_checks_names():
    config = load_config(DEVELOPMENT)
    with pytest.raises(AttributeError):
        config.REDIS_PORT = 1
    assert config.replace(REDIS_PORT=1).REDIS_PORT == 1
    with pytest.raises(AttributeError):
        config.replace(NO_SUCH_VARIABLE=1)


def test_variable_names_are_unique():
    names = [variable.name for variable in VARIABLES]
    assert len(names) == len(set(names))


def test_a_send_claim_must_outlast_every_provider_call():
    problems = problems_for({**DEVELOPMENT, "NOTIFICATION_SEND_CLAIM_SECONDS": "21", "MMG_READ_TIMEOUT": "12000"})
    assert problems == [
        "NOTIFICATION_SEND_CLAIM_SECONDS (21 s) must exceed MMG_CONNECTION_TIMEOUT + MMG_READ_TIMEOUT (22000 ms)"
    ]
    assert load_config({**DEVELOPMENT, "NOTIFICATION_SEND_CLAIM_SECONDS": "23", "MMG_READ_TIMEOUT": "12000"})


def test_the_send_retry_schedule_must_fit_on_a_queue():
    environment = {
        **DEVELOPMENT,
        "NOTIFICATION_SEND_RETRY_BASE_SECONDS": "3600",
        "NOTIFICATION_SEND_MAX_ATTEMPTS": "10",
    }
    [problem] = problems_for(environment)
    assert problem.startswith("the last send retry would wait 921600 s")
    assert load_config({**environment, "NOTIFICATION_SEND_MAX_ATTEMPTS": "6"})
