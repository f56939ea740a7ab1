from django.urls import path

from notifications import api_v2, callbacks, emails_api, statistics

urlpatterns = [
    path("notifications/sms/firetext", callbacks.process_firetext_response, name="notifications-firetext-callback"),
    path("notifications/sms/mmg", callbacks.process_mmg_response, name="notifications-mmg-callback"),
    path("notifications/email/ses", callbacks.process_ses_response, name="notifications-ses-callback"),
    path("emails", emails_api.send_email, name="notifications-service-emails"),
    path("v2/notifications/sms", api_v2.post_sms_notification, name="v2-post-sms"),
    path("v2/notifications/email", api_v2.post_email_notification, name="v2-post-email"),
    path("v2/notifications/<str:notification_id>", api_v2.get_notification_by_id, name="v2-get-notification"),
    path("v2/notifications", api_v2.get_notifications, name="v2-get-notifications"),
    path(
        "service/<uuid:service_id>/notifications-statistics",
        statistics.get_notification_statistics_for_service,
        name="service-notification-statistics",
    ),
]
