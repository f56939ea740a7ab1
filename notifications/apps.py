from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from dispatcher_site.error_formats import register_error_format
        from notifications import api_v2, envelope

        register_error_format("/v2/", api_v2.ERROR_FORMAT)
        register_error_format("/notifications/", envelope.ERROR_FORMAT)
        register_error_format("/service/", envelope.ERROR_FORMAT)
        # Registers the send queues and their handlers, and the providers' part of readiness.
        from notifications import readiness, sending  # noqa: F401
