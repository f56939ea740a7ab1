"""The reference's answer shape for callbacks and the statistics API: `{"result", "message"}`."""

from typing import Any

from django.http import JsonResponse


def envelope(message: Any, status: int) -> JsonResponse:
    """`result` is "success" below 400, else "error"; `message` is a string, a list of strings for
    missing fields, or an object of field errors."""
    return JsonResponse({"result": "success" if status < 400 else "error", "message": message}, status=status)
