"""RFC 7807 problem documents, the error shape of the reference's REST API, for every JSON API here."""

from typing import Any

from django.http import JsonResponse


def problem(status: int, title: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse(
        {"title": title, "status": status, "detail": detail, **extra},
        status=status,
        content_type="application/problem+json",
    )
