"""The payment receipt e-mails `POST /emails` renders (dispatcher.md Part B §8.3; notifications.md Part A §7).

The templates are the project's own files, `notifications/templates/notifications/receipts/<language>/`
`<templateId>.txt` and `.html`, rendered by Django's template engine (they loop over the cart's items
and reach into nested parameters, which Notify's `((placeholder))` templates cannot). it-IT is the
one language written; a request in another language gets it too.

1. `parameter_problems(template_id, parameters)` lists every parameter the template needs that is
   missing or of the wrong type, named by its path (`cart.items[0].payee.taxCode`): the ones the
   transactions handlers send (`transactions.receipt_mail`). Extra parameters are allowed.
2. `render(template_id, language, parameters)` returns the text and the HTML body.
3. `template_row(service, template_id)` is the service's `Template` row for a receipt template: the
   notification names it, and its version goes up when the text file changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.template.loader import get_template

from notifications.models import EMAIL, Service, Template

DEFAULT_LANGUAGE = "it-IT"
TEMPLATE_DIRECTORY = Path(__file__).resolve().parent / "templates" / "notifications" / "receipts"

TEXT = "a string"
OPTIONAL_TEXT = "a string or null"
FLAG = "a boolean"
OPTIONAL_OBJECT = "an object or null"
ITEMS = "a non-empty list of objects"

CART_ITEM_PARAMETERS: dict[str, str] = {
    "refNumber.type": TEXT,
    "refNumber.value": TEXT,
    "debtor": OPTIONAL_OBJECT,
    "payee.name": TEXT,
    "payee.taxCode": TEXT,
    "subject": OPTIONAL_TEXT,
    "amount": TEXT,
}
PARAMETERS: dict[str, dict[str, str]] = {
    "success": {
        "transaction.id": TEXT,
        "transaction.timestamp": TEXT,
        "transaction.amount": TEXT,
        "transaction.psp.name": OPTIONAL_TEXT,
        "transaction.psp.fee.amount": TEXT,
        "transaction.rrn": TEXT,
        "transaction.authCode": TEXT,
        "transaction.paymentMethod.name": OPTIONAL_TEXT,
        "transaction.paymentMethod.logo": OPTIONAL_TEXT,
        "transaction.paymentMethod.accountHolder": OPTIONAL_TEXT,
        "transaction.paymentMethod.extraFee": FLAG,
        "user.data": OPTIONAL_OBJECT,
        "user.email": TEXT,
        "cart.items": ITEMS,
        "cart.amountPartial": TEXT,
    },
    "ko": {
        "transaction.id": TEXT,
        "transaction.timestamp": TEXT,
        "transaction.amount": TEXT,
    },
}
TEMPLATE_IDS = tuple(PARAMETERS)
_MISSING = object()


def _lookup(parameters: Mapping[str, Any], path: str) -> Any:
    value: Any = parameters
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _kind_problem(value: Any, kind: str) -> bool:
    """True when `value` is not of `kind`."""
    checks = {
        TEXT: lambda v: isinstance(v, str),
        OPTIONAL_TEXT: lambda v: v is None or isinstance(v, str),
        FLAG: lambda v: isinstance(v, bool),
        OPTIONAL_OBJECT: lambda v: v is None or isinstance(v, Mapping),
        ITEMS: lambda v: isinstance(v, list) and bool(v) and all(isinstance(item, Mapping) for item in v),
    }
    return not checks[kind](value)


def _problems(parameters: Mapping[str, Any], schema: Mapping[str, str], prefix: str) -> list[str]:
    problems = []
    for path, kind in schema.items():
        value = _lookup(parameters, path)
        if value is _MISSING:
            problems.append(f"{prefix}{path} is missing")
        elif _kind_problem(value, kind):
            problems.append(f"{prefix}{path} must be {kind}")
        elif kind == ITEMS:
            for index, item in enumerate(value):
                problems += _problems(item, CART_ITEM_PARAMETERS, f"{prefix}{path}[{index}].")
    return problems


def parameter_problems(template_id: str, parameters: Mapping[str, Any]) -> list[str]:
    """What is wrong with the parameters for this template (empty when they will do)."""
    return _problems(parameters, PARAMETERS[template_id], "parameters.")


def template_language(language: str) -> str:
    return language if (TEMPLATE_DIRECTORY / language).is_dir() else DEFAULT_LANGUAGE


def render(template_id: str, language: str, parameters: Mapping[str, Any]) -> tuple[str, str]:
    """(text body, HTML body) of a receipt e-mail."""
    name = f"notifications/receipts/{template_language(language)}/{template_id}"
    context = dict(parameters)
    return get_template(f"{name}.txt").render(context).strip() + "\n", get_template(f"{name}.html").render(context)


def template_row(service: Service, template_id: str, subject: str) -> Template:
    """The service's Template row of a receipt template, its content kept equal to the text file."""
    source = (TEMPLATE_DIRECTORY / DEFAULT_LANGUAGE / f"{template_id}.txt").read_text()
    defaults = {"name": f"Payment receipt: {template_id}", "template_type": EMAIL, "subject": subject}
    try:
        with transaction.atomic():
            row, _ = Template.objects.get_or_create(
                service=service, receipt_template_id=template_id, defaults={**defaults, "content": source}
            )
    except IntegrityError:
        # Another request created it first (the pair is unique).
        row = Template.objects.get(service=service, receipt_template_id=template_id)
    if row.content != source:
        row.content = source
        row.save()  # a new version: notifications keep the one they were made from
    return row
