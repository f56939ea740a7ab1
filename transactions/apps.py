import logging

from django.apps import AppConfig
from django.conf import settings

from dispatcher_site.config import NPG_PAYMENT_METHODS, Config, ConfigurationError
from transactions.redirect_urls import expected_criteria_problems

logger = logging.getLogger(__name__)


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Payment transactions"

    def ready(self) -> None:
        """Refuse to start with a configuration the clients cannot use (spec Part B §12)."""
        config = settings.DISPATCHER
        problems = startup_problems(config)
        if problems:
            raise ConfigurationError(problems)
        from transactions.retry import authorization_outcome_schedule_warning  # imports models: after loading

        warning = authorization_outcome_schedule_warning(
            config.AUTHORIZATION_OUTCOME_WAITING_EVENT_BASE_INTERVAL_SECONDS,
            config.AUTHORIZATION_OUTCOME_WAITING_EVENT_MAX_ATTEMPTS,
        )
        if warning:
            logger.warning(warning)
        from transactions.handlers import import_all_handlers

        import_all_handlers()


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
