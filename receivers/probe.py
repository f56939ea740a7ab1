"""The diagnostic `probe` queue: proves that the consumers, the queues and the dead letters work.

An operator (or a test, or the benchmark) sends a ProbeEvent QueueEvent to DIAGNOSTIC_PROBE_QUEUE_NAME;
the handler logs it and counts it. Its `data` may ask for more, so every path of the runtime can be
exercised end to end in a real deployment without touching payment queues:
- `"record": true`      store a ProbeReceipt row (idempotent: once per event id, however often delivered);
- `"sleepSeconds": n`   take n seconds (at most 60), like a slow handler;
- `"deadLetter": "CAT"` fail with that dead-letter category, to check dead-letter alerting;
- `"forwardTo": "KEY"`  send the same QueueEvent on to another queue through the outbox.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from dispatcher_site.metrics import statsd_client
from receivers.handlers import DeadLetterCategory, HandlerError, QueueMessage, queue_handler
from receivers.models import ProbeReceipt
from receivers.outbox import Outbox
from receivers.queues import QUEUES

logger = logging.getLogger(__name__)

PROBE_EVENT_CLASS = "it.pagopa.ecommerce.eventdispatcher.diagnostics.ProbeEvent"
PROBE_EVENT_CODE = "PROBE_EVENT"
MAX_SLEEP_SECONDS = 60


def parse_probe(event: Mapping[str, Any]) -> dict[str, Any]:
    data = event["data"] or {}
    unknown = set(data) - {"record", "sleepSeconds", "deadLetter", "forwardTo"}
    if unknown:
        raise ValueError(f"unknown probe options {sorted(unknown)}")
    sleep_seconds = float(data.get("sleepSeconds", 0))
    if not 0 <= sleep_seconds <= MAX_SLEEP_SECONDS:
        raise ValueError(f"sleepSeconds must be between 0 and {MAX_SLEEP_SECONDS}")
    dead_letter = data.get("deadLetter")
    if dead_letter is not None:
        DeadLetterCategory.from_text(dead_letter)
    forward_to = data.get("forwardTo")
    if forward_to is not None and forward_to not in QUEUES:
        raise ValueError(f"no queue {forward_to!r}")
    return {**data, "sleepSeconds": sleep_seconds}


def probe_event(data: Mapping[str, Any] | None = None, transaction_id: str | None = None) -> dict[str, Any]:
    """A new probe event, ready for `Outbox.send` or `serialize_queue_event`."""
    return {
        "_class": PROBE_EVENT_CLASS,
        "id": str(uuid.uuid4()),
        "transactionId": transaction_id or uuid.uuid4().hex,
        "creationDate": timezone.now().isoformat(),
        "data": dict(data or {}),
        "eventCode": PROBE_EVENT_CODE,
    }


@queue_handler("probe", accepts=[PROBE_EVENT_CLASS], parse=parse_probe)
def handle_probe(message: QueueMessage, outbox: Outbox) -> None:
    options = message.event
    logger.info("probe %s received (dequeue count %d)", message.raw_event["id"], message.dequeue_count)
    statsd_client().incr("probe.received")
    if options["sleepSeconds"]:
        time.sleep(options["sleepSeconds"])
    if options.get("deadLetter"):
        raise HandlerError(DeadLetterCategory.from_text(options["deadLetter"]), "probe asked to be dead-lettered")
    if not options.get("record") and not options.get("forwardTo"):
        return
    with outbox.decision():
        if options.get("record"):
            receipt = ProbeReceipt(event_id=message.raw_event["id"], queue=message.queue_key)
            ProbeReceipt.objects.bulk_create([receipt], ignore_conflicts=True)
        if options.get("forwardTo"):
            outbox.send(options["forwardTo"], message.raw_event, message.tracing_info)
