"""One INFO line per HTTP request: method, path (never the query string, which may hold a callback
token), status and duration. gunicorn's own access log is off, so this is the only request log."""

import logging
import time

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("dispatcher_site.access")


class AccessLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "http.method": request.method,
                "url.path": request.path,
                "http.status_code": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response
