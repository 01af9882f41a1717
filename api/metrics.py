"""GET /metrics on the API: requests by route template, method and status, their latency and
size, and the requests in flight (prometheus-fastapi-instrumentator), in a registry of the
app's own (a process may hold several apps: the tests, `bench --in-process`)."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

METRICS_PATH = "/metrics"


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=True,
        should_instrument_requests_inprogress=True,
        inprogress_labels=True,
        excluded_handlers=[METRICS_PATH],
        registry=registry,
    ).instrument(app, metric_namespace="herald").expose(
        app, endpoint=METRICS_PATH, include_in_schema=False, tags=["operations"]
    )
