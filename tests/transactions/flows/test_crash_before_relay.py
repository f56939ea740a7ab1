"""A real `consume_queue` killed (SIGKILL) after its decision committed and before its follow-ups left
(spec Part A §11): the next process relays each follow-up exactly once and handles nothing twice.

To stop the consumer at that exact point, the dead-letter account is a second Azurite that the test
freezes (SIGSTOP) while the notifications service answers: the consumer commits its decision (the
dead letter first, then the refund request and its message), then blocks sending the dead letter. The
test kills it, discards the frozen Azurite (a request it buffered must not be served later) and brings
up a fresh dead-letter account, as an outage that ends would.
"""

import os
import signal
import subprocess
import sys

import pytest
from azure.storage.queue import QueueClient
from django.conf import settings
from werkzeug import Response

from dispatcher_site import local_servers
from receivers.models import HandledMessage, OutboxMessage
from receivers.queues import queue_client
from tests.receivers.conftest import FAST_CONSUMER_ENV, wait_until
from tests.transactions.flows.conftest import (
    EMAIL_TOKEN,
    queue_length,
    requests_to,
    send_event,
    store,
    stored_codes,
    visible_events,
)
from tests.transactions.flows.stories import TRACING_INFO, story
from transactions import events as ev
from transactions.store import load_events

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, available_apps=["transactions", "receivers"]),
]

TX = "c0ffee0000000000000000000000c0de"
MAIL_PATH = "/notifications-service/emails"
State = OutboxMessage.State


class DeadLetterAccount:
    """An Azurite of its own for the dead-letter queue, which the test can freeze and replace."""

    def __init__(self):
        self.start()

    def start(self) -> None:
        port = local_servers.free_port()
        self.process = local_servers.start_azurite(port)
        self.connection_string = local_servers.azurite_connection_string(port)
        self.queue = QueueClient.from_connection_string(
            self.connection_string, settings.DISPATCHER.TRANSACTIONS_DEAD_LETTER_QUEUE_NAME
        )
        self.queue.create_queue()

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def replace(self) -> None:
        """Kill the frozen one with whatever it buffered; a fresh, empty account takes its place."""
        self.process.kill()
        self.process.wait()
        self.start()

    def texts(self) -> list[str]:
        return [message.content for message in self.queue.peek_messages(max_messages=32)]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
        local_servers.stop(self.process)


@pytest.fixture
def dead_letter_account():
    account = DeadLetterAccount()
    yield account
    account.stop()


def consumer(environment: dict[str, str], queue_key: str) -> subprocess.Popen:
    manage = os.path.join(settings.BASE_DIR, "manage.py")
    return subprocess.Popen(
        [sys.executable, manage, "consume_queue", queue_key],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_a_consumer_killed_between_commit_and_send_loses_nothing_and_repeats_nothing(
    services, subprocess_env, dead_letter_account
):
    mail_attempts = []

    def mail_fails_while_the_dead_letter_account_freezes(request):
        mail_attempts.append(request)
        dead_letter_account.freeze()
        return Response("{}", status=503, content_type="application/json")

    services.expect_request(MAIL_PATH, method="POST").respond_with_handler(
        mail_fails_while_the_dead_letter_account_freezes
    )
    events = story("notification error", receipt_outcome="KO")
    events.append(ev.TransactionUserReceiptAddRetriedEvent.new(TX, ev.TransactionRetriedData(retry_count=3)))
    store(events)
    send_event("notifications-retry", events[-1])
    base = services.url_for("").rstrip("/")
    environment = {
        **subprocess_env,
        **FAST_CONSUMER_ENV,
        "CONSUMER_VISIBILITY_TIMEOUT_SECONDS": "2",
        "OUTBOX_RELAY_GRACE_SECONDS": "2",
        "OUTBOX_RELAY_INTERVAL_SECONDS": "0.2",
        "NOTIFICATION_RETRY_EVENT_MAX_ATTEMPTS": "3",
        "PERSONAL_DATA_VAULT_API_BASE_PATH": f"{base}/pdv",
        "ECOMMERCE_PERSONAL_DATA_VAULT_API_KEY": "pdv-key",
        "NOTIFICATIONS_SERVICE_URI": f"{base}/notifications-service",
        "NOTIFICATIONS_SERVICE_API_KEY": "notifications-key",
        "QUEUE_DEADLETTER_CONNECTION_STRING": dead_letter_account.connection_string,
    }
    first = consumer(environment, "notifications-retry")
    try:
        wait_until(lambda: OutboxMessage.objects.count() == 2, "the decision to commit its dead letter and refund")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {State.PENDING}, "nothing left the process"
    assert queue_length("refund") == 0
    dead_letter_account.replace()
    environment["QUEUE_DEADLETTER_CONNECTION_STRING"] = dead_letter_account.connection_string

    second = consumer(environment, "notifications-retry")
    try:
        wait_until(
            lambda: (
                set(OutboxMessage.objects.values_list("state", flat=True)) == {State.SENT}
                and queue_length("notifications-retry") == 0
            ),
            "the second consumer to relay the rows and finish the message",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()

    assert len(mail_attempts) == 1, "the redelivered message was not handled again"
    assert len(requests_to(services, f"/pdv/tokens/{EMAIL_TOKEN}/pii")) == 1
    assert stored_codes(TX).count("TRANSACTION_REFUND_REQUESTED_EVENT") == 1
    refund = load_events(TX)[-1].to_json_dict()
    assert visible_events("refund") == [{"event": refund, "tracingInfo": TRACING_INFO}], "the refund, sent once"
    [letter] = dead_letter_account.texts()
    assert '"category":"RETRY_EVENT_NO_ATTEMPTS_LEFT"' in letter
    assert HandledMessage.objects.filter(queue="notifications-retry").count() == 1
    assert queue_client("notifications-retry").get_queue_properties().approximate_message_count == 0
