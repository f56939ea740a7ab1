"""Only accepted v2 QueueEvents reach a handler; every other shape is dead-lettered as EVENT_PARSING_ERROR."""

import base64
import gzip
import json

import pytest

from receivers.handlers import serialize_queue_event
from receivers.probe import probe_event
from receivers.queues import send_text
from tests.receivers.conftest import TRACEPARENT, consume_once, dead_letters, queue_length

pytestmark = pytest.mark.django_db(transaction=True)

TRACING = {"traceparent": TRACEPARENT, "tracestate": None, "baggage": None}
V1_EVENT = {
    "id": "0660cd04-db3e-4b7e-858b-e8f75a29ac30",
    "transactionId": "bdb92a6577fb4aab9bba2ebb80cd8310",
    "creationDate": "2023-09-25T14:44:31.177776+02:00[Europe/Rome]",
    "data": {"retryCount": 1},
    "eventCode": "TRANSACTION_CLOSURE_RETRIED_EVENT",
}
ACTIVATED_V2 = {
    **V1_EVENT,
    "_class": "it.pagopa.ecommerce.commons.documents.v2.TransactionActivatedEvent",
    "eventCode": "TRANSACTION_ACTIVATED_EVENT",
}


def _with_event(**changes):
    event = {**probe_event(), **changes}
    return serialize_queue_event({k: v for k, v in event.items() if v is not ...}, TRACING)


SHAPES = {
    "empty": "",
    "blank": "   ",
    "not JSON": "hello, queue",
    "JSON array": "[1, 2]",
    "JSON string": '"text"',
    "v1 event wrapped": serialize_queue_event(V1_EVENT, TRACING),
    "v1 event bare": json.dumps(V1_EVENT),
    "bare v2 event": json.dumps(probe_event()),
    "unknown _class": _with_event(_class="it.pagopa.ecommerce.commons.documents.v2.NoSuchEvent"),
    "event on the wrong queue": serialize_queue_event(ACTIVATED_V2, TRACING),
    "missing tracingInfo": json.dumps({"event": probe_event()}),
    "null traceparent": serialize_queue_event(probe_event(), {"traceparent": None}),
    "unknown top-level property": json.dumps({"event": probe_event(), "tracingInfo": TRACING, "extra": 1}),
    "unknown event property": _with_event(surprise=True),
    "missing event id": _with_event(id=...),
    "data not an object": _with_event(data=[1]),
    "probe data the handler's parser refuses": _with_event(data={"sleepSeconds": 3600}),
    "base64 garbage": base64.b64encode(b"\x00\xff not json at all").decode(),
    "base64 of a JSON array": base64.b64encode(b"[1,2,3]").decode(),
    "64 KiB body": "x" * 65536,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_refused_shape_is_dead_lettered_as_parsing_error_with_its_original_text(queues, shape):
    text = SHAPES[shape]
    send_text("probe", text)

    consumer = consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "EVENT_PARSING_ERROR"
    assert dead_letter["sourceQueue"] == "probe"
    stored = dead_letter.get("originalMessage")
    if "originalMessageGzip" in dead_letter:
        stored = gzip.decompress(base64.b64decode(dead_letter["originalMessageGzip"])).decode()
    assert stored == text
    assert queue_length("probe") == 0
    assert consumer.totals.counts["dead_lettered"] == 1


def test_wrong_queue_dead_letter_names_the_transaction(queues):
    send_text("probe", serialize_queue_event(ACTIVATED_V2, TRACING))

    consume_once("probe")

    [dead_letter] = dead_letters()
    assert dead_letter["transactionId"] == ACTIVATED_V2["transactionId"]
    assert dead_letter["eventCode"] == "TRANSACTION_ACTIVATED_EVENT"
    assert "not accepted on queue probe" in dead_letter["error"]


@pytest.mark.parametrize("encoding", ["plain", "base64"])
def test_accepted_event_reaches_the_handler_in_plain_text_and_in_base64(queues, probe_handler, encoding):
    seen = []
    probe_handler(lambda message, outbox: seen.append(message))
    event = probe_event({"record": True})
    text = serialize_queue_event(event, TRACING)
    send_text("probe", text if encoding == "plain" else base64.b64encode(text.encode()).decode())

    consume_once("probe")

    [message] = seen
    assert message.raw_event == event
    assert message.text == text
    assert message.tracing_info["traceparent"] == TRACEPARENT
    assert dead_letters() == []
    assert queue_length("probe") == 0


def test_a_short_accepted_class_name_means_the_v2_event_and_nothing_else(queues, probe_handler):
    seen = []
    probe_handler(lambda message, outbox: seen.append(message.event_class), accepts=["ProbeEvent"])
    v2 = {**probe_event(), "_class": "it.pagopa.ecommerce.commons.documents.v2.ProbeEvent"}
    v1 = {**probe_event(), "_class": "it.pagopa.ecommerce.commons.documents.v1.ProbeEvent"}
    for event in (v2, v1):
        send_text("probe", serialize_queue_event(event, TRACING))

    consume_once("probe")

    assert seen == [v2["_class"]]
    [dead_letter] = dead_letters()
    assert dead_letter["category"] == "EVENT_PARSING_ERROR"
    assert json.loads(dead_letter["originalMessage"])["event"] == v1
    assert queue_length("probe") == 0
