"""Request spans from the Django instrumentation, with callback credentials kept out of them."""

import pytest
from opentelemetry.instrumentation.django import DjangoInstrumentor

from dispatcher_site import observability
from dispatcher_site.observability import redact_query, redact_url


@pytest.fixture
def request_spans(spans):
    observability.instrument()
    yield spans
    DjangoInstrumentor().uninstrument()
    observability._instrumented = False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/notifications/sms/mmg?token=s3cret&x=1", "http://h/notifications/sms/mmg?token=REDACTED&x=1"),
        ("/notifications/sms/mmg?token=s3cret", "/notifications/sms/mmg?token=REDACTED"),
        ("/health/liveness?verbose=1", "/health/liveness?verbose=1"),
        ("/health/liveness", "/health/liveness"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_bare_query():
    assert redact_query("token=abc&b=2") == "token=REDACTED&b=2"


@pytest.mark.django_db
def test_a_callback_token_never_reaches_the_request_span(client, request_spans):
    client.post("/notifications/sms/firetext?token=callback-secret", {"status": "0"})
    finished = request_spans.get_finished_spans()
    assert finished, "the Django instrumentation recorded no span"
    for span in finished:
        for value in span.attributes.values():
            assert "callback-secret" not in str(value)
    assert any("token=REDACTED" in str(value) for span in finished for value in span.attributes.values())
