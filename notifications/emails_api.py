"""`POST /emails`: the notifications service's mail API, so the transactions handlers can send payment
receipts through this deployment (dispatcher.md Part B §8.3; notifications.md Part A §7).

It takes what `transactions.clients.notifications_service.send_email` sends:
1. header `ocp-apim-subscription-key`: a full API key string of the sending service
   (`<name>-<service id>-<secret>`, as `create_service` prints it); missing or unknown 401, revoked
   key or archived service 403;
2. body `{"to", "subject", "language", "templateId", "parameters"}`: `templateId` `success` or `ko`,
   with the parameters that template needs (`notifications.receipt_templates`); any problem is a 400
   problem document listing every one of them in `errors`;
3. the receipt becomes an e-mail notification of that service (text and HTML rendered from the it-IT
   templates, the subject as given), committed with its delivery message (`notifications.delivery`),
   sent through SES like any e-mail and tracked by the SES receipts. A test key's receipts are simulated.
The answer is 202 `{"id": <notification id>}`: accepted, sent by the consumers (the client takes
200 and 202 as success).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dispatcher_site.json_bodies import UnacceptableJson, parse_json
from dispatcher_site.problems import problem
from notifications import delivery, receipt_templates
from notifications.api_v2 import recipient_problem
from notifications.models import EMAIL
from notifications.v2_auth import AuthError, api_key_from_string

KEY_HEADER = "ocp-apim-subscription-key"
FIELDS = ("to", "subject", "language", "templateId", "parameters")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class BadRequest(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def bad_request(problems: list[str]) -> JsonResponse:
    return problem(400, "Bad Request", "; ".join(problems), errors=problems)


def parse_body(body: bytes) -> dict[str, Any]:
    """The request body, or BadRequest naming every problem."""
    try:
        data = parse_json(body)
    except UnacceptableJson as error:
        raise BadRequest([str(error)]) from None
    except ValueError:
        raise BadRequest(["body is not JSON"]) from None
    if not isinstance(data, dict):
        raise BadRequest(["body must be a JSON object"])
    problems = [f"{field} is missing" for field in FIELDS if field not in data]
    problems += [
        f"{field} must be a string" for field in FIELDS[:4] if field in data and not isinstance(data[field], str)
    ]
    if problems:
        raise BadRequest(problems)
    if recipient_problem(EMAIL, data["to"].strip()):
        problems.append("to is not a valid e-mail address")
    if not data["subject"].strip():
        problems.append("subject must not be empty")
    if not _LANGUAGE.match(data["language"]):
        problems.append(f"language {data['language']!r} is not a language tag such as it-IT")
    if data["templateId"] not in receipt_templates.TEMPLATE_IDS:
        known = ", ".join(receipt_templates.TEMPLATE_IDS)
        problems.append(f"templateId {data['templateId']!r} is not a known template ({known})")
    if not isinstance(data["parameters"], dict):
        problems.append("parameters must be an object")
    elif data["templateId"] in receipt_templates.TEMPLATE_IDS:
        problems += receipt_templates.parameter_problems(data["templateId"], data["parameters"])
    if problems:
        raise BadRequest(problems)
    return data


@csrf_exempt
@require_POST
def send_email(request: HttpRequest) -> JsonResponse:
    try:
        api_key = api_key_from_string(request.headers.get(KEY_HEADER, ""))
    except AuthError as error:
        return problem(error.status, "Unauthorized" if error.status == 401 else "Forbidden", error.message)
    try:
        data = parse_body(request.body)
    except BadRequest as error:
        return bad_request(error.problems)
    template_id, subject = data["templateId"], data["subject"].strip()
    text, html = receipt_templates.render(template_id, data["language"], data["parameters"])
    template = receipt_templates.template_row(api_key.service, template_id, subject)
    notification = delivery.create_notification(
        template, data["to"].strip(), {}, api_key=api_key, rendered=(text, subject, html)
    )
    return JsonResponse({"id": str(notification.id)}, status=202)
