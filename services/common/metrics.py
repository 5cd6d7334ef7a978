"""Prometheus metrics shared by every process, and the /metrics endpoint."""

from __future__ import annotations

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

REQUEST_LATENCY = Histogram(
    "plantrack_http_request_duration_seconds",
    "HTTP request latency by route",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_PUBLISHED = Counter(
    "plantrack_outbox_published_total", "Events relayed from the outbox to JetStream", ["service"]
)
OUTBOX_PENDING = Gauge("plantrack_outbox_pending", "Outbox rows not yet relayed", ["service"])
EVENTS_CONSUMED = Counter(
    "plantrack_events_consumed_total", "Events applied by a consumer", ["consumer"]
)
EVENTS_DUPLICATE = Counter(
    "plantrack_events_duplicate_total", "Redelivered events skipped by the inbox", ["consumer"]
)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
