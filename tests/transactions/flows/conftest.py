"""Fixtures of the flow tests: spans in memory, queues emptied, stand-in services configured."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture(scope="session")
def span_exporter():
    """An in-memory exporter on the SDK tracer provider (installed when none is yet)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(span_exporter):
    """The exporter, emptied before the test."""
    span_exporter.clear()
    return span_exporter


def status_spans(exporter) -> list[dict]:
    """The attributes of every "Transaction status updated" span finished so far, in order."""
    return [
        dict(span.attributes) for span in exporter.get_finished_spans() if span.name == "Transaction status updated"
    ]
