"""The transactions HTTP API under /event-dispatcher (x-api-key checked by the middleware).

POST /event-dispatcher/transactions/events
    Body: a JSON array of v2 events (the `event` objects of QueueEvents). Each event is handled on its
    own, in array order, and atomically: parsed strictly, then stored once at the end of its
    transaction (idempotent by event id) with the view updated. Valid events are stored even when
    others of the same array are refused; a refused event stores nothing. Answers 200 when every event
    is stored or was already stored, else 400 (problem JSON) listing what was stored and what was
    refused and why. A body that is not a JSON array of 1..MAX_EVENTS_PER_REQUEST items is refused
    whole (400, nothing stored).
GET /event-dispatcher/transactions/<transactionId>
    The transaction's status, view fields and events in order; 404 when unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from dispatcher_site.json_bodies import UnacceptableJson, parse_json
from dispatcher_site.problems import problem
from receivers.handlers import EventParsingError
from transactions.events import parse_event
from transactions.models import Transaction, TransactionEvent
from transactions.reduction import reduce_events
from transactions.store import ConcurrentAppendError, EventConflictError, EventOrderError, store_incoming_event

MAX_EVENTS_PER_REQUEST = 500


def allow_methods(*methods: str) -> Callable:
    """Answer other methods with a 405 problem; API clients carry no CSRF token (the API key protects)."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
            if request.method not in methods:
                response = problem(405, "Method not allowed", f"Use {', '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@allow_methods("POST")
def ingest_events(request: HttpRequest) -> JsonResponse:
    try:
        items = parse_json(request.body)
    except UnacceptableJson as error:
        return problem(400, "Bad request", f"The body is not usable: {error}.")
    except (ValueError, UnicodeDecodeError):
        return problem(400, "Bad request", "The body is not valid JSON.")
    if not isinstance(items, list) or not items:
        return problem(400, "Bad request", "The body must be a non-empty JSON array of v2 events.")
    if len(items) > MAX_EVENTS_PER_REQUEST:
        return problem(400, "Bad request", f"At most {MAX_EVENTS_PER_REQUEST} events per request.")
    stored, refused = [], []
    for index, item in enumerate(items):
        outcome = _ingest_one(index, item)
        (refused if "error" in outcome else stored).append(outcome)
    if refused:
        detail = f"{len(refused)} of {len(items)} events were refused; the others were stored."
        if all(outcome.get("retryable") for outcome in refused):
            # Only contention with consumers writing the same transactions: sending again will work.
            return problem(409, "Conflict", detail, stored=stored, refused=refused)
        return problem(400, "Bad request", detail, stored=stored, refused=refused)
    return JsonResponse({"stored": stored, "refused": []})


def _ingest_one(index: int, item: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = {"index": index}
    if isinstance(item, dict):
        outcome.update(id=item.get("id"), transactionId=item.get("transactionId"), eventCode=item.get("eventCode"))
    try:
        event = parse_event(item)
        result = store_incoming_event(event)
    except (EventParsingError, EventConflictError, EventOrderError) as error:
        return {**outcome, "error": str(error)}
    except ConcurrentAppendError:
        return {**outcome, "error": "the transaction kept changing while this event was stored", "retryable": True}
    return {**outcome, "sequence": result.sequence, "alreadyStored": not result.stored}


@allow_methods("GET")
def transaction_detail(request: HttpRequest, transaction_id: str) -> JsonResponse:
    records = list(TransactionEvent.objects.filter(transaction_id=transaction_id).order_by("sequence"))
    view = Transaction.objects.filter(pk=transaction_id).first()
    if not records and view is None:
        return problem(404, "Not found", f"No transaction with id {transaction_id}.")
    state = reduce_events(record.to_event() for record in records)
    status = view.status if view else (state.status.value if state.status else None)
    return JsonResponse(
        {
            "transactionId": transaction_id,
            "status": status,
            "aggregateStatus": state.status.value if state.status else None,
            "view": view.as_json_dict() if view else None,
            "events": [
                {"sequence": r.sequence, "storedAt": r.stored_at.isoformat(), "event": r.to_json_dict()}
                for r in records
            ],
        }
    )
