"""Real `consume_queue send-sms` processes killed (SIGKILL) during a send, and two consumers holding copies
of one delivery message (spec notifications.md Part A §7, dispatcher.md Part A §11).

- Killed after its decision committed, before what it decided left the process: the next consumer
  relays the retry once and hands nothing to a provider again. The consumer is stopped at that exact
  point by a proxy between it and Azurite, which the Firetext stand-in tells to hold everything the
  consumer sends from the moment it answers; so the consumer commits, then waits for ever on the relay.
- Killed while the provider holds its request: nothing is lost; another consumer sends the notification
  once the claim has run out, never while it is held. The provider then has had two requests for it,
  the first never answered to anyone: the one window of the at-least-once contract (`notifications.sending`).
- Two consumers with two copies of one message, the normal path: the provider gets exactly one request.
"""

import os
import signal
import threading
import time

import pytest
from werkzeug import Response

from dispatcher_site.local_servers import azurite_connection_string
from dispatcher_site.management.commands.run_local import queue_endpoint_port
from notifications.delivery_messages import DeliveryRequest, delivery_event
from notifications.models import ApiKey, Notification
from receivers.models import HandledMessage, OutboxMessage
from tests.holding_proxy import HoldingProxy
from tests.notifications.sending_support import create, statistics_are_right
from tests.queue_support import dead_letters, queue_length, send_event
from tests.receivers.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIRETEXT_OK = '{"code": 0, "description": "queued"}'
CLAIM_SECONDS = 4
# Short leases, grace and retries; every provider timeout well inside the claim.
CRASH_ENV = {
    "CONSUMER_VISIBILITY_TIMEOUT_SECONDS": "3",
    "OUTBOX_RELAY_GRACE_SECONDS": "2",
    "OUTBOX_RELAY_INTERVAL_SECONDS": "0.2",
    "NOTIFICATION_SEND_RETRY_BASE_SECONDS": "1",
    "NOTIFICATION_SEND_CLAIM_SECONDS": str(CLAIM_SECONDS),
    **{f"{p}_{t}_TIMEOUT": "1000" for p in ("FIRETEXT", "MMG", "SES") for t in ("CONNECTION", "READ")},
}


@pytest.fixture
def normal_key(service):
    return ApiKey.issue(service, "normal-key")[0]


@pytest.fixture
def azurite_proxy():
    _, port = queue_endpoint_port(os.environ["QUEUE_TRANSIENT_CONNECTION_STRING"])
    proxy = HoldingProxy(port)
    yield proxy
    proxy.close()


def json_response(text: str) -> Response:
    return Response(text, content_type="application/json")


def test_killed_after_its_decision_the_retry_is_relayed_once_and_nothing_is_sent_again(
    send_queues, sms_providers, normal_key, sms_template, start_sender, azurite_proxy
):
    def firetext_declines_and_cuts_the_consumer_off(request):
        azurite_proxy.hold()
        return json_response('{"code": 1, "description": "Authentication error"}')

    sms_providers.expect_request("/firetext").respond_with_handler(firetext_declines_and_cuts_the_consumer_off)
    sms_providers.expect_request("/mmg").respond_with_json({"Reference": "mmg-1"})
    notification = create(sms_template, "07700900123", normal_key)
    through_proxy = azurite_connection_string(azurite_proxy.port)
    first = start_sender("send-sms", **CRASH_ENV, QUEUE_TRANSIENT_CONNECTION_STRING=through_proxy)

    wait_until(lambda: OutboxMessage.objects.filter(queue_key="send-sms").count() == 2, "the retry's decision")
    wait_until(lambda: HandledMessage.objects.exists(), "the handled mark")
    first.signal(signal.SIGKILL)
    first.wait()

    retry = OutboxMessage.objects.get(queue_key="send-sms", source_queue="send-sms")
    assert retry.state == "PENDING", "the retry never left the killed process"
    assert Notification.objects.get(id=notification.id).status == "created"
    assert queue_length("send-sms") == 1, "the original message, still leased"

    second = start_sender("send-sms", **CRASH_ENV)
    wait_until(
        lambda: Notification.objects.get(id=notification.id).status == "sending" and queue_length("send-sms") == 0,
        f"the second consumer to relay the retry and send it through MMG\n{second.output}",
    )

    sent = Notification.objects.get(id=notification.id)
    assert sent.sent_by == "mmg"
    assert [request.path for request, _ in sms_providers.log] == ["/firetext", "/mmg"]
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"SENT"}
    assert HandledMessage.objects.count() == 2, "the original message and the retry, each handled once"
    assert dead_letters() == []
    statistics_are_right()


def test_killed_while_the_provider_holds_its_request_nothing_is_lost_and_no_one_sends_during_the_claim(
    send_queues, sms_providers, normal_key, sms_template, start_sender
):
    arrivals: list[float] = []
    first_request_held = threading.Event()
    release = threading.Event()

    def firetext(request):
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            first_request_held.set()
            release.wait(timeout=30)
        return json_response(FIRETEXT_OK)

    sms_providers.expect_request("/firetext").respond_with_handler(firetext)
    notification = create(sms_template, "07700900123", normal_key)
    first = start_sender("send-sms", **CRASH_ENV)
    second = None
    try:
        wait_until(first_request_held.is_set, "the first consumer to call Firetext")
        claimed_until = Notification.objects.get(id=notification.id).send_claimed_until
        first.signal(signal.SIGKILL)
        first.wait()
        second = start_sender("send-sms", **CRASH_ENV)
        wait_until(
            lambda: Notification.objects.get(id=notification.id).status == "sending",
            f"the second consumer to send it\n{second.output}",
        )
    finally:
        release.set()

    sent = Notification.objects.get(id=notification.id)
    assert (sent.sent_by, sent.billable_units) == ("firetext", 1)
    assert len(arrivals) == 2, "the request the killed consumer never saw answered, and the one that sent it"
    assert claimed_until is not None, "the killed consumer held a claim while it called Firetext"
    assert arrivals[1] - arrivals[0] >= CLAIM_SECONDS - 0.5, "no second request while the claim was held"
    wait_until(lambda: queue_length("send-sms") == 0, "the message to be finished")
    assert dead_letters() == []
    statistics_are_right()


def test_two_consumers_with_two_copies_of_one_message_send_it_once(
    send_queues, sms_providers, normal_key, sms_template, start_sender
):
    def slow_firetext(request):
        time.sleep(0.5)
        return json_response(FIRETEXT_OK)

    sms_providers.expect_request("/firetext").respond_with_handler(slow_firetext)
    notification = create(sms_template, "07700900123", normal_key)
    # A second copy of the same delivery, as a relay that sent its row twice would leave.
    send_event("send-sms", delivery_event(DeliveryRequest(notification.id)), {"traceparent": ""})
    assert queue_length("send-sms") == 2

    consumers = [start_sender("send-sms", **CRASH_ENV, CONSUMER_BATCH_SIZE="1") for _ in range(2)]
    wait_until(
        lambda: queue_length("send-sms") == 0,
        "both copies to be finished\n" + "\n".join(consumer.output for consumer in consumers),
    )

    assert len(sms_providers.log) == 1
    assert Notification.objects.get(id=notification.id).status == "sending"
    assert HandledMessage.objects.count() == 1, "the copy that found it sent needed no decision"
    assert dead_letters() == []
