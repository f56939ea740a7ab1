"""What KEDA's azure-queue scaler sees on a queue that holds delayed retries, with each counting strategy,
on Azurite, and how many consumers the rendered ScaledObjects would ask for.

`keda_queue_length` reads the queue the way KEDA 2.15+ does (pkg/scalers/azure_queue_scaler.go,
getMessageCount): `all` takes the queue's approximate message count, which includes messages that are
not visible yet (delayed retries) or leased by a consumer; `visibleonly` peeks up to 32 messages and,
when it sees 32, falls back to the approximate count.
"""

from __future__ import annotations

import math

import pytest

from receivers.queues import queue_client
from tests.deploy.manifests import named

PEEK_LIMIT = 32
DELAYED_RETRIES = 50


def keda_queue_length(client, strategy: str) -> int:
    if strategy == "visibleonly":
        visible = len(client.peek_messages(max_messages=PEEK_LIMIT))
        if visible < PEEK_LIMIT:
            return visible
    return client.get_queue_properties().approximate_message_count


def desired_replicas(scaled_object: dict, count: int) -> int:
    """KEDA activation, then the HPA's average-value target, within the ScaledObject's bounds."""
    spec = scaled_object["spec"]
    [trigger] = spec["triggers"]
    if count <= int(trigger["metadata"]["activationQueueLength"]):
        return spec["minReplicaCount"]
    wanted = math.ceil(count / int(trigger["metadata"]["queueLength"]))
    return min(spec["maxReplicaCount"], max(spec["minReplicaCount"], 1, wanted))


@pytest.fixture
def probe_queue(queues_created):
    client = queue_client("probe")
    client.clear_messages()
    yield client
    client.clear_messages()


def send(client, count: int, delay_seconds: int = 0) -> None:
    for number in range(count):
        client.send_message(f"message {number}", visibility_timeout=delay_seconds or None)


def test_delayed_retries_count_with_all_and_not_with_visibleonly(probe_queue):
    send(probe_queue, DELAYED_RETRIES, delay_seconds=600)

    assert keda_queue_length(probe_queue, "all") == DELAYED_RETRIES
    assert keda_queue_length(probe_queue, "visibleonly") == 0

    send(probe_queue, 5)
    assert keda_queue_length(probe_queue, "all") == DELAYED_RETRIES + 5
    assert keda_queue_length(probe_queue, "visibleonly") == 5


def test_messages_leased_by_a_consumer_are_not_a_backlog_for_visibleonly(probe_queue):
    send(probe_queue, 10)
    leased = list(probe_queue.receive_messages(max_messages=4, messages_per_page=4, visibility_timeout=60))

    assert len(leased) == 4
    assert keda_queue_length(probe_queue, "all") == 10
    assert keda_queue_length(probe_queue, "visibleonly") == 6


def test_from_32_visible_messages_visibleonly_counts_the_delayed_ones_too(probe_queue):
    send(probe_queue, DELAYED_RETRIES, delay_seconds=600)
    send(probe_queue, PEEK_LIMIT)

    assert keda_queue_length(probe_queue, "visibleonly") == DELAYED_RETRIES + PEEK_LIMIT


def test_a_retry_queue_holding_only_delayed_retries_scales_to_zero_with_visibleonly_only(probe_queue):
    retry = named("prod", "ScaledObject", "event-dispatcher-consumer-refund-retry")
    send(probe_queue, DELAYED_RETRIES, delay_seconds=600)

    assert desired_replicas(retry, keda_queue_length(probe_queue, "all")) == 1, "never idle with all"
    assert desired_replicas(retry, keda_queue_length(probe_queue, "visibleonly")) == 0

    send(probe_queue, 3)
    assert desired_replicas(retry, keda_queue_length(probe_queue, "visibleonly")) == 1


def test_a_latency_sensitive_queue_adds_a_consumer_per_thirty_visible_messages(probe_queue):
    closure = named("prod", "ScaledObject", "event-dispatcher-consumer-closure")
    send(probe_queue, DELAYED_RETRIES, delay_seconds=600)
    send(probe_queue, 20)

    assert desired_replicas(closure, keda_queue_length(probe_queue, "visibleonly")) == 1
    assert desired_replicas(closure, keda_queue_length(probe_queue, "all")) == 3, "delayed messages would scale out"
    send(probe_queue, 11)
    assert desired_replicas(closure, keda_queue_length(probe_queue, "visibleonly")) == 2
