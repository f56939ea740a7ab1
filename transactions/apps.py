import logging

from django.apps import AppConfig
from django.conf import settings

from dispatcher_site.config import NPG_PAYMENT_METHODS, Config, ConfigurationError
from transactions.redirect_urls import expected_criteria_problems

logger = logging.getLogger(__name__)

# NPG's GDI check can last up to this long; the last outcome attempt should not come earlier.
GDI_CHECK_MAX_SECONDS = 300
FIRST_OUTCOME_ATTEMPT_SECONDS = 60


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Payment transactions"

    def ready(self) -> None:
        """Refuse to start with a configuration the clients cannot use (spec Part B §12)."""
        config = settings.DISPATCHER
        problems = startup_problems(config)
        if problems:
            raise ConfigurationError(problems)
        warning = auth_outcome_schedule_warning(
            config.AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS,
            config.AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS,
        )
        if warning:
            logger.warning(warning)


def startup_problems(config: Config) -> list[str]:
    """What stops the start: unresolvable expected redirect criteria, NPG PSPs without the default key.

    Per-PSP key coverage and JSON shapes are checked earlier, when the configuration is loaded.
    """
    problems = expected_criteria_problems(config.REDIRECT_URL_CONFIGURATION, config.REDIRECT_EXPECTED_MATCHING_CRITERIA)
    psp_lists = [
        f"NPG_{method}_PSP_LIST" for method in NPG_PAYMENT_METHODS if getattr(config, f"NPG_{method}_PSP_LIST")
    ]
    if psp_lists and not config.NPG_API_KEY:
        problems.append(f"NPG_API_KEY is required when an NPG PSP list is set ({', '.join(psp_lists)})")
    return problems


def auth_outcome_schedule_warning(base_interval_seconds: int, max_attempts: int) -> str | None:
    """Warn when the last authorization-outcome attempt comes before NPG's GDI check can have ended (spec §6).

    Attempt i (0-based) happens base x i(i+1)/2 + 60 s after the first delay.
    """
    attempts = [base_interval_seconds * i * (i + 1) // 2 + FIRST_OUTCOME_ATTEMPT_SECONDS for i in range(max_attempts)]
    if attempts[-1] >= GDI_CHECK_MAX_SECONDS:
        return None
    text = f"Authorization outcome attempts at {attempts} s end before the {GDI_CHECK_MAX_SECONDS} s GDI check: "
    if max_attempts < 2:
        return text + "raise AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS above 1"
    minimum = (GDI_CHECK_MAX_SECONDS - FIRST_OUTCOME_ATTEMPT_SECONDS) * 2 // ((max_attempts - 1) * max_attempts)
    return text + f"set AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS to at least {minimum}"
