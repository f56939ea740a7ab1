"""Errors on API paths in the caller's format, whatever DJANGO_DEBUG says (issue 14).

For every path `error_formats` calls an API path:
1. a body longer than DATA_UPLOAD_MAX_MEMORY_SIZE (by its Content-Length) is refused with 413 before
   anything reads it, a URI longer than MAX_URI_LENGTH with 414, a Host header outside
   DJANGO_ALLOWED_HOSTS with 400, and so is the NUL character
   in the path, the query string or a form body (PostgreSQL stores it in no text column, so it would
   otherwise be a 500 on one database only; JSON bodies are checked by `json_bodies`);
2. a SuspiciousOperation or an unparsable multipart body met by the view becomes a 400 that says what
   was wrong;
3. any other 4xx or 5xx answer that is not JSON (Django's 404 and 500 pages, plain or debug,
   `require_POST`'s empty 405) gets a body in the API's format; status and headers (`Allow`) stay.
Client errors are logged at WARNING without a traceback: Django's request line, plus one of ours naming
the reason for the refusals above, which Django would log at ERROR with a traceback. Server errors keep
Django's ERROR line with the traceback.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

from dispatcher_site.error_formats import error_format_for, error_response

logger = logging.getLogger(__name__)


CLIENT_ERRORS = (SuspiciousOperation, MultiPartParserError)
# gunicorn's own default request-line limit, kept as the APIs' limit on the URI; gunicorn's limit is
# raised above it (gunicorn.conf.py) so that the refusal is a 414 in the API's format, not its HTML.
MAX_URI_LENGTH = 4094


def is_json(response: HttpResponse) -> bool:
    media_type = response.get("Content-Type", "").split(";", 1)[0].strip()
    return media_type == "application/json" or media_type.endswith("+json")


def content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def body_too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(request.path, 413, f"The request body is larger than {limit} bytes.")


def nul_character_in(request: HttpRequest) -> str | None:
    """The part of the request that holds the NUL character, if one does."""
    if "\x00" in request.path:
        return "path"
    if "%00" in request.META.get("QUERY_STRING", ""):
        return "query string"
    if request.content_type == "application/x-www-form-urlencoded" and b"%00" in request.body:
        return "form body"
    return None


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if error_format_for(request.path) is None:
            return self.get_response(request)
        response = self.refusal(request) or self.get_response(request)
        if response.status_code >= 400 and not is_json(response):
            response = self.in_api_format(request, response)
        return response

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        """Step 1: what is refused before any view or middleware reads the request."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = content_length(request)
        if limit is not None and length > limit:
            logger.warning("refused a body of %d bytes on %s: the limit is %d", length, request.path, limit)
            return body_too_large(request)
        if len(request.get_full_path()) > MAX_URI_LENGTH:
            logger.warning("refused %s: a URI longer than %d characters", request.path, MAX_URI_LENGTH)
            message = f"The request URI is longer than {MAX_URI_LENGTH} characters."
            return error_response(request.path, 414, message)
        if where := nul_character_in(request):
            logger.warning("refused %s: the NUL character in its %s", request.path, where)
            return error_response(request.path, 400, f"The {where} must not contain the NUL character (%00).")
        try:
            request.get_host()
        except DisallowedHost:
            logger.warning(
                "refused %s for host %r: not in DJANGO_ALLOWED_HOSTS", request.path, request.META.get("HTTP_HOST")
            )
            return error_response(request.path, 400, "The Host header names a host this service does not serve.")
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Step 2; other exceptions are Django's to log and answer (500), then step 3 formats them."""
        if error_format_for(request.path) is None or not isinstance(exception, CLIENT_ERRORS):
            return None
        logger.warning("refused %s: %s: %s", request.path, type(exception).__name__, exception)
        if isinstance(exception, RequestDataTooBig):
            return body_too_large(request)
        return error_response(request.path, 400, str(exception))

    def in_api_format(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Step 3: the same response (status, headers, and Django's note that it was logged) with the
        API's error body, whose message names what was wrong."""
        status = response.status_code
        messages = {
            404: f"Not found: {request.path}",
            405: f"Method {request.method} is not allowed on {request.path}; use {response.get('Allow', 'none')}.",
        }
        formatted = error_response(request.path, status, messages.get(status))
        response.content = formatted.content
        response["Content-Type"] = formatted["Content-Type"]
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response
