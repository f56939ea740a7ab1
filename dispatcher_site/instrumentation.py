"""statsd instrumentation on top of `dispatcher_site.metrics`: the `@statsd` decorator and request metrics.

- `@statsd(namespace="dao")` on a function sends, after every call that returns normally, a count and a
  timing (ms) named `<namespace>.<function name>` (spec notifications.md Part B §4.2). A call that raises
  sends nothing, like the reference.
- `RequestMetricsMiddleware` sends a count and a timing (ms) named `<METHOD>.<app>.<view>.<status>` for
  every request that resolved to a view (Part B §4.3), e.g. `POST.notifications.process_firetext_response.200`.
  Requests answered before URL resolution (x-api-key refusals) or by no route send nothing, so
  scanners cannot invent metric names.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.apps import apps
from django.http import HttpRequest, HttpResponse

from dispatcher_site.metrics import statsd_client

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def statsd(namespace: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(function: Callable[P, R]) -> Callable[P, R]:
        stat = f"{namespace}.{function.__name__}"

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.monotonic()
            result = function(*args, **kwargs)
            elapsed_ms = (time.monotonic() - started) * 1000
            logger.debug("%s call %s took %.4f ms", namespace, function.__name__, elapsed_ms)
            client = statsd_client()
            client.incr(stat)
            client.timing(stat, elapsed_ms)
            return result

        return wrapper

    return decorator


@functools.lru_cache(maxsize=256)
def _app_label(module: str) -> str:
    config = apps.get_containing_app_config(module)
    return config.label if config else module.split(".", 1)[0]


def request_stat(request: HttpRequest, response: HttpResponse) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    view = getattr(match.func, "view_class", match.func)
    return f"{request.method}.{_app_label(view.__module__)}.{view.__name__}.{response.status_code}"


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        stat = request_stat(request, response)
        if stat:
            client = statsd_client()
            client.incr(stat)
            client.timing(stat, (time.monotonic() - started) * 1000)
        return response
