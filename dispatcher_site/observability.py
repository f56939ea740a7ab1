"""OpenTelemetry wiring: Django request spans, and an exporter only when the OTEL_* variables ask for one."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# Provider callbacks may carry their credential as ?token=… (a callback URL can hold nothing else).
SECRET_QUERY_PARAMETERS = frozenset({"token"})
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")

_instrumented = False


def exporter_requested() -> bool:
    config = settings.DISPATCHER
    return config.OTEL_TRACES_EXPORTER not in ("", "none") or bool(config.OTEL_EXPORTER_OTLP_ENDPOINT)


def redact_query(query: str) -> str:
    """A query string with the values of secret parameters replaced by REDACTED."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name in SECRET_QUERY_PARAMETERS for name, _ in pairs):
        return query
    return urlencode([(name, "REDACTED" if name in SECRET_QUERY_PARAMETERS else value) for name, value in pairs])


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=redact_query(parts.query))) if parts.query else url


def hide_secrets_in_span(span: trace.Span, request: HttpRequest, response: HttpResponse) -> None:
    """Response hook: the Django instrumentation records the full URL, query string included."""
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if not isinstance(value, str):
            continue
        redacted = redact_query(value) if key == "url.query" else redact_url(value)
        if redacted != value:
            span.set_attribute(key, redacted)


def instrument() -> None:
    """Trace requests once per process, only when an exporter is configured.

    Recording spans nobody exports cost a third of a trivial request's CPU (measured with
    bench/callbacks.py), so without OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_ENDPOINT nothing is
    instrumented. Queue consumers still open their spans through the API, which is a no-op then.
    """
    global _instrumented
    if _instrumented or not exporter_requested():
        return
    _instrumented = True
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": settings.DISPATCHER.OTEL_SERVICE_NAME}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    instrument_django()


def instrument_django() -> None:
    DjangoInstrumentor().instrument(response_hook=hide_secrets_in_span)
