"""GET /metrics on the API: requests by route template, method and status, their latency and
size (prometheus-fastapi-instrumentator), and the requests in flight, in a registry of the
app's own (a process may hold several apps: the tests, `bench --in-process`)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.types import ASGIApp, Receive, Scope, Send

METRICS_PATH = "/metrics"


class InFlightMiddleware:
    """Requests in flight, by method. (The instrumentator's own gauge always registers in the
    process-wide registry, which a second app in the process would collide with.)"""

    def __init__(self, app: ASGIApp, gauge: Gauge) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        in_flight = self.gauge.labels(scope["method"])
        in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            in_flight.dec()


class RateLimitStorageErrors(Collector):
    """Calls to the rate-limit counters' Redis that failed (api/counters.py), read from the
    app's resources when scraped."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        resources = getattr(self.app.state, "resources", None)
        yield CounterMetricFamily(
            "herald_rate_limit_storage_errors",
            "Calls to the rate-limit counters' Redis that failed; meanwhile each API process "
            "counted in its own memory.",
            value=resources.counters.storage_errors if resources is not None else 0,
        )


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=True,
        excluded_handlers=[METRICS_PATH],
        registry=registry,
    ).instrument(app, metric_namespace="herald").expose(
        app, endpoint=METRICS_PATH, include_in_schema=False, tags=["operations"]
    )
    in_flight = Gauge(
        "herald_http_requests_inprogress",
        "API requests in flight, by method.",
        ["method"],
        registry=registry,
    )
    app.add_middleware(InFlightMiddleware, gauge=in_flight)
    registry.register(RateLimitStorageErrors(app))
