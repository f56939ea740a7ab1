from django.contrib import admin
from django.urls import include, path

from dispatcher_site import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/liveness", health.liveness, name="health-liveness"),
    path("health/readiness", health.readiness, name="health-readiness"),
    path("", include("receivers.urls")),
    path("", include("transactions.urls")),
    path("", include("notifications.urls")),
    path("", include("console.urls")),
]
