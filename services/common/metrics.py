"""Prometheus metrics shared by every process, and the /metrics endpoint."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
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


def latency_middleware(
    service: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        REQUEST_LATENCY.labels(service, request.method, path, str(response.status_code)).observe(
            time.perf_counter() - start
        )
        return response

    return middleware
