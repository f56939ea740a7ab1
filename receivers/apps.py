from django.apps import AppConfig


class ReceiversConfig(AppConfig):
    name = "receivers"
    verbose_name = "Queue receivers"

    def ready(self):
        # Registers the diagnostic probe queue's handler (transactions and notifications register theirs).
        from dispatcher_site.health import register_readiness_report
        from receivers import probe  # noqa: F401
        from receivers.relay import outbox_status

        register_readiness_report("outbox", outbox_status)
