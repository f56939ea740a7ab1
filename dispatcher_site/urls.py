from django.contrib import admin
from django.urls import include, path

from dispatcher_site import health, openapi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/liveness", health.liveness, name="health-liveness"),
    path("health/readiness", health.readiness, name="health-readiness"),
    path("openapi.json", openapi.openapi_json, name="openapi-json"),
    path("", include("receivers.urls")),
    path("", include("transactions.urls")),
    path("", include("notifications.urls")),
    path("", include("console.urls")),
]
