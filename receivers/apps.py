from django.apps import AppConfig


class ReceiversConfig(AppConfig):
    name = "receivers"
    verbose_name = "Queue receivers"

    def ready(self):
        # Registers the diagnostic probe queue's handler (transactions and notifications register theirs).
        from receivers import probe  # noqa: F401
