"""Request spans from the Django instrumentation, with callback credentials kept out of them."""

import pytest
from opentelemetry.instrumentation.django import DjangoInstrumentor

from dispatcher_site import observability
from dispatcher_site.observability import redact_query, redact_url


@pytest.fixture
def request_spans(spans):
    observability.instrument_django()
    yield spans
    DjangoInstrumentor().uninstrument()


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


def test_nothing_is_instrumented_without_an_exporter(settings):
    assert not observability.exporter_requested()
    observability.instrument()
    assert not DjangoInstrumentor().is_instrumented_by_opentelemetry


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ],
)
def test_an_exporter_is_requested_by_the_standard_variables(settings, changes, expected):
    settings.DISPATCHER = settings.DISPATCHER.replace(**changes)
    assert observability.exporter_requested() is expected
