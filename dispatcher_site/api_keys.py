"""The operator API key check (reference behaviour: SECURITY_API_KEYS_*).

A request whose path starts with one of SECURITY_API_KEYS_SECURED_PATHS must carry an `x-api-key`
header equal to the primary or the secondary key, else it gets 401 in its API's error format (the
reference answered with an empty body; issue 14 asks every API error to be JSON).
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from dispatcher_site.error_formats import error_response


def api_key_name(presented: str) -> str | None:
    """Which key was presented ("primary" or "secondary"), or None when it matches neither."""
    config = settings.DISPATCHER
    matched = None
    # Compare against both keys every time, in constant time, so timing reveals nothing.
    for name, key in (("secondary", config.SECURITY_API_KEYS_SECONDARY), ("primary", config.SECURITY_API_KEYS_PRIMARY)):
        if key and hmac.compare_digest(presented.encode(), key.encode()):
            matched = name
    return matched


def api_key_is_valid(presented: str) -> bool:
    return api_key_name(presented) is not None


def path_is_secured(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in settings.DISPATCHER.SECURITY_API_KEYS_SECURED_PATHS if prefix)


class ApiKeyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if path_is_secured(request.path) and not api_key_is_valid(request.headers.get("x-api-key", "")):
            return error_response(request.path, 401, "A valid x-api-key header is required.")
        return self.get_response(request)
