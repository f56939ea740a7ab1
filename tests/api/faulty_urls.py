"""The project's URLs plus one view under each API's prefix that fails the way a bug would."""

from django.urls import include, path

FAULTY_PATHS = ["/event-dispatcher/faulty", "/v2/faulty", "/notifications/faulty", "/service/faulty", "/faulty"]


def faulty_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path(p.lstrip("/"), faulty_view) for p in FAULTY_PATHS] + [path("", include("dispatcher_site.urls"))]
