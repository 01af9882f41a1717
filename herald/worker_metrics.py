"""The worker's metrics port (HERALD_WORKER_METRICS_PORT): Herald's series (herald.metrics)
and the Temporal SDK's own worker series, on one scrape URL.

The SDK (its Rust core) serves Prometheus text itself, on a port of its own; that port is
bound to loopback and its series are folded into Herald's exposition, so an operator scrapes
one URL per worker."""

from __future__ import annotations

import contextlib
import logging
import socket
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger(__name__)

SDK_SCRAPE_TIMEOUT_S = 2.0


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SdkMetrics:
    runtime: Runtime
    url: str


def sdk_metrics() -> SdkMetrics:
    """A Temporal runtime whose core serves its worker metrics on a loopback port."""
    address = f"127.0.0.1:{_free_loopback_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=address, counters_total_suffix=True, durations_as_seconds=True
            )
        )
    )
    return SdkMetrics(runtime, f"http://{address}/metrics")


class _SdkCollector:
    """Reads the SDK's exposition at scrape time (in the metrics server's thread)."""

    def __init__(self, url: str) -> None:
        self._url = url

    def collect(self) -> Iterable[Metric]:
        try:
            with urllib.request.urlopen(self._url, timeout=SDK_SCRAPE_TIMEOUT_S) as answer:
                text = answer.read().decode()
        except OSError as err:
            log.warning("the Temporal SDK's metrics could not be read: %s", err)
            return []
        return list(text_string_to_metric_families(text))


@contextlib.contextmanager
def serving_metrics(host: str, port: int, sdk_url: str | None) -> Iterator[None]:
    collector = _SdkCollector(sdk_url) if sdk_url else None
    if collector is not None:
        REGISTRY.register(collector)
    server, thread = start_http_server(port, addr=host)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        server.shutdown()
        thread.join(5)
        if collector is not None:
            REGISTRY.unregister(collector)
