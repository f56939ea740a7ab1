"""OpenTelemetry wiring: Django request spans, and an exporter only when the OTEL_* variables ask for one."""

import os

from django.conf import settings
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_instrumented = False


def exporter_requested() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    return exporter not in ("", "none") or bool(settings.DISPATCHER.OTEL_EXPORTER_OTLP_ENDPOINT)


def instrument() -> None:
    """Install the tracer provider and the Django instrumentation once per process."""
    global _instrumented
    if _instrumented:
        return
    _instrumented = True
    provider = TracerProvider(resource=Resource.create({"service.name": settings.DISPATCHER.OTEL_SERVICE_NAME}))
    if exporter_requested():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
