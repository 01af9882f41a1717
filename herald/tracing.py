"""OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: spans of the API's
requests, of the Temporal client, workflows and activities (temporalio.contrib.opentelemetry,
whose context rides in Temporal headers), and of every outbound HTTP call, exported over
OTLP/HTTP. One trace runs from `POST /v1/posts` through the workflow to each platform call.
The exporter reads the standard OTEL_* variables (endpoint, headers, batch delay)."""

from __future__ import annotations

import os
from typing import Any

from temporalio.client import Interceptor

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_started = False


def tracing_enabled() -> bool:
    return bool(os.environ.get(ENDPOINT_VARIABLE))


def start_tracing(service: str) -> bool:
    """Installs the process's tracer provider and the HTTP client instrumentation, once;
    False (and nothing done) when tracing is off."""
    global _started
    if not tracing_enabled():
        return False
    if _started:
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    _started = True
    return True


def stop_tracing() -> None:
    """Sends what is still buffered before the process ends."""
    if not _started:
        return
    from opentelemetry import trace

    provider: Any = trace.get_tracer_provider()
    provider.shutdown()


def temporal_interceptors() -> list[Interceptor]:
    """For Client.connect: spans for starts, signals and updates, and (through the same client)
    for the workers' workflows and activities."""
    if not tracing_enabled():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument_app(app: Any) -> None:
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics,/healthz,/readyz")
