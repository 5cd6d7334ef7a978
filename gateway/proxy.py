"""Forwarding /api/v1/… to the owning service over pooled HTTP, retrying only idempotent calls."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from gateway.deps import Routed, upstream_authorization
from gateway.labels import MESSAGES
from gateway.routes import API_PREFIX, rule_for
from services.common.errors import DomainError
from services.common.runtime import request_id_var
from services.common.settings import SERVICES, Settings

log = logging.getLogger("plantrack.gateway")

RETRIED_METHODS = frozenset({"GET", "HEAD"})
# Routes whose work takes longer than a moment (a whole spreadsheet read and written).
LONG_WORK = re.compile(rf"^{API_PREFIX}/(projects|enterprises)/import$")
RETRY_DELAYS = (0.05, 0.2)
# Hop-by-hop headers (RFC 9110 §7.6.1) and those the next hop recomputes.
HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# A streamed body keeps the service's length; the gateway sets its own request id.
# The gateway's own server writes `date` and `server` once; the service's copies would repeat them.
DROPPED_RESPONSE_HEADERS = (HOP_HEADERS - {"content-length"}) | {"x-request-id", "date", "server"}


class UpstreamUnavailable(DomainError):
    status = 503
    title = "Service unavailable"


class UpstreamTimeout(DomainError):
    status = 504
    title = "Service did not answer in time"


class Upstreams:
    """The services behind the gateway and one pooled HTTP client to reach them."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.base = {name: getattr(settings, f"{name}_url").rstrip("/") for name in SERVICES}
        self.timeout = settings.upstream_timeout_seconds
        self.import_timeout = settings.upstream_import_timeout_seconds
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=min(2.0, self.timeout)),
            # Shorter than uvicorn's keep-alive (5 s), so the gateway never writes to a
            # connection the service is closing: that would fail a POST it may not retry.
            limits=httpx.Limits(
                max_connections=200, max_keepalive_connections=64, keepalive_expiry=2.0
            ),
            # Connect failures are retried for every method: nothing was sent yet.
            transport=transport or httpx.AsyncHTTPTransport(retries=1),
            follow_redirects=False,
        )

    def timeout_for(self, method: str, path: str) -> float:
        """How long the route's own work may take: imports long, everything else short."""
        return self.import_timeout if method == "POST" and LONG_WORK.match(path) else self.timeout

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        stream: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - per-call httpx timeout
    ) -> httpx.Response:
        """One call to `service`; GET/HEAD retried on transport errors; 503/504 when it fails."""
        url = self.base[service] + path + (f"?{query}" if query else "")
        attempts = 1 + (len(RETRY_DELAYS) if method in RETRIED_METHODS else 0)
        for attempt in range(attempts):
            request = self.client.build_request(
                method,
                url,
                headers=headers,
                content=content,
                timeout=(
                    httpx.Timeout(timeout, connect=min(2.0, timeout))
                    if timeout is not None
                    else httpx.USE_CLIENT_DEFAULT
                ),
            )
            try:
                return await self.client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                waited = timeout if timeout is not None else self.timeout
                error: DomainError = UpstreamTimeout(
                    MESSAGES("upstream_timeout", service=service, waited=f"{waited:g}"),
                    extra={"service": service},
                )
                cause: Exception = exc
            except httpx.TransportError as exc:
                error = UpstreamUnavailable(
                    MESSAGES("upstream_away", service=service),
                    extra={"service": service},
                )
                cause = exc
            if attempt + 1 < attempts:
                await asyncio.sleep(RETRY_DELAYS[attempt])
        log.warning("%s %s → %s failed: %r", method, path, service, cause)
        raise error from cause


def forward_headers(request: Request) -> dict[str, str]:
    """The caller's headers minus hop-by-hop ones, plus the request id and forwarding facts."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    # The session cookie stays here; the services see a token they can verify themselves.
    headers.pop("cookie", None)
    authorization = upstream_authorization(request)
    if authorization:
        headers["authorization"] = authorization
    headers["x-request-id"] = request_id_var.get()
    client = request.client.host if request.client else ""
    previous = request.headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{previous}, {client}" if previous else client
    headers["x-forwarded-proto"] = request.url.scheme
    return headers


router = APIRouter()


@router.api_route(
    API_PREFIX + "/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def forward(path: str, request: Request, _: Routed) -> Response:
    """Pass the call to its service after the gateway's own token and permission checks."""
    full_path = request.url.path
    rule = rule_for(full_path)
    assert rule is not None  # `Routed` already answered 404 for unknown paths
    upstreams: Upstreams = request.app.state.upstreams
    request.scope["plantrack.service"] = rule.service
    body = await request.body()
    upstream = await upstreams.send(
        rule.service,
        request.method,
        full_path,
        query=request.url.query,
        headers=forward_headers(request),
        content=body or None,
        stream=True,
        timeout=upstreams.timeout_for(request.method, full_path),
    )
    headers = {
        k: v for k, v in upstream.headers.items() if k.lower() not in DROPPED_RESPONSE_HEADERS
    }
    if "location" in headers:
        headers["location"] = public_location(headers["location"], upstreams.base[rule.service])
    return StreamingResponse(relay(upstream), status_code=upstream.status_code, headers=headers)


def public_location(location: str, base: str) -> str:
    """A redirect into the service, as a path on the gateway: never the service's own address."""
    if location.startswith(base + "/"):
        return location[len(base) :]
    return location


async def relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    """The service's body as it comes; the connection goes back to the pool even when the
    caller hangs up half way (a background task would not run then)."""
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()
