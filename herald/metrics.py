"""Herald's own Prometheus series (the worker's; the API's request series are
api/metrics.py's). Names and the questions they answer are in the README."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)

TARGETS_PUBLISHED = Counter(
    "herald_targets_published", "Targets published, by platform.", ["platform"]
)
TARGETS_FAILED = Counter(
    "herald_targets_failed",
    "Targets that ended failed, by platform and error code (rejected, auth_expired, ...).",
    ["platform", "error"],
)
PUBLISH_LATENCY = Histogram(
    "herald_publish_latency_seconds",
    "From when a target was due to when it was published, by platform.",
    ["platform"],
    buckets=LATENCY_BUCKETS,
)
PLATFORM_CALLS = Histogram(
    "herald_platform_publish_seconds",
    "One publish attempt's time in the platform adapter, by platform and outcome "
    "(published, rejected, rate_limited, unavailable, auth_expired).",
    ["platform", "outcome"],
    buckets=CALL_BUCKETS,
)
RATE_LIMITED = Counter(
    "herald_platform_rate_limited",
    "429s (or quota answers) met, by platform; a rate limit is waited out, not an attempt.",
    ["platform"],
)
WEBHOOK_ATTEMPTS = Histogram(
    "herald_webhook_attempt_seconds",
    "Webhook delivery attempts and their duration, by outcome (delivered, retry, gone).",
    ["outcome"],
    buckets=CALL_BUCKETS,
)
RECONCILER_REPAIRS = Counter(
    "herald_reconciler_repairs",
    "Posts the reconciler found without a running workflow and started again.",
)
