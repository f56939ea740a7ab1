"""The dashboard for alerting (issue 13, Deliver 1): the same figures as the admin index, as JSON.

`GET /event-dispatcher/console/dashboard` sits behind the operator key (x-api-key, like the receiver
API), so alerting reads figures without scraping HTML or holding an admin login.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from console.dashboard import read_dashboard


@require_GET
def dashboard(request: HttpRequest) -> JsonResponse:
    return JsonResponse(read_dashboard().as_json())
