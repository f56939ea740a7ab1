"""The reference's answer shape for callbacks and the statistics API: `{"result", "message"}`."""

from typing import Any

from django.http import JsonResponse

from dispatcher_site.error_formats import ErrorFormat


def envelope(message: Any, status: int) -> JsonResponse:
    """`result` is "success" below 400, else "error"; `message` is a string, a list of strings for
    missing fields, or an object of field errors."""
    return JsonResponse({"result": "success" if status < 400 else "error", "message": message}, status=status)


# Every other error on the callback and statistics paths, in the same envelope; a 500 says what the
# reference's blueprint handler said (spec notifications.md Part B §1.1).
ERROR_FORMAT = ErrorFormat("result+message", lambda status, message: envelope(message, status), "Internal server error")
