"""A consumer that dies between committing its decision and relaying it (spec Part A §11).

`decide_and_die` sends a QueueEvent, receives it with a short lease and lets the queue runtime decide
it exactly as `consume_queue` does (same parsing, same handler, real commits), then stops: the outbox
rows it committed stay pending and the message stays on its queue, as a SIGKILL right after the commit
leaves them. `redeliver` waits for the lease to run out and hands the same queue message to the runtime
again, which finds its decision committed, relays the rows and deletes it (the tests shorten the
relay's grace period to one second: `OUTBOX_RELAY_GRACE_SECONDS`).
"""

from __future__ import annotations

import time

from receivers.models import OutboxMessage
from receivers.processing import Outcome, decide_message, process_message
from receivers.queues import queue_client
from tests import queue_support
from tests.queue_support import committed_rows
from tests.transactions.handlers.builders import TRACING

# Longer than the grace period the relay gives a decision (`short_relay_grace`), so the redelivery finds
# the rows due.
LEASE_SECONDS = 2


def decide_and_die(queue_key: str, event: dict, tracing_info: dict = TRACING) -> list[OutboxMessage]:
    """The rows the decision committed and nobody relayed."""
    queue_support.send_event(queue_key, event, tracing_info)
    [received] = queue_client(queue_key).receive_messages(visibility_timeout=LEASE_SECONDS)
    _outcome, outbox = decide_message(queue_key, received)
    return committed_rows(outbox)


def redeliver(queue_key: str) -> Outcome:
    """The same queue message again, once its lease ran out (its second delivery); its outcome."""
    client = queue_client(queue_key)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        received = list(client.receive_messages(visibility_timeout=5))
        if received:
            [message] = received
            assert message.dequeue_count == 2, "the same queue message, delivered a second time"
            return process_message(queue_key, message)
        time.sleep(0.2)
    raise AssertionError(f"nothing came back on {queue_key}")
