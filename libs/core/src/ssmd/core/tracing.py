"""OpenTelemetry set-up and W3C trace context carried in message headers.

A service calls `setup_tracing` once at start-up. The bus calls `inject_context` on the
headers of every message it publishes and `extract_context` on every message it consumes,
so one trace follows an event from the connector to the archiver and beyond. The header
names are the W3C ones (``traceparent``, ``tracestate``), so any NATS client can join in.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


def setup_tracing(
    service_name: str,
    *,
    exporter: SpanExporter | None = None,
    console: bool = False,
) -> TracerProvider:
    """Install a tracer provider for `service_name` and the W3C propagator.

    With no exporter spans are still created (so context propagates) but go nowhere;
    `console=True` prints them, for local debugging. Tests pass an in-memory exporter.
    """
    current = trace.get_tracer_provider()
    # OpenTelemetry allows one global provider per process: reuse it if already installed.
    provider = (
        current
        if isinstance(current, TracerProvider)
        else TracerProvider(resource=Resource.create({"service.name": service_name}))
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if console:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    if provider is not current:
        trace.set_tracer_provider(provider)
    propagate.set_global_textmap(_PROPAGATOR)
    return provider


def inject_context(
    headers: MutableMapping[str, str], ctx: otel_context.Context | None = None
) -> MutableMapping[str, str]:
    """Write ``traceparent``/``tracestate`` for the current (or given) span into `headers`."""
    _PROPAGATOR.inject(headers, context=ctx)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The trace context carried by a message's headers (empty context if none)."""
    return _PROPAGATOR.extract(dict(headers or {}))


def tracer(name: str) -> trace.Tracer:
    """The tracer for module `name` (use ``__name__``)."""
    return trace.get_tracer(name)
