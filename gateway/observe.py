"""Request ids and per-route latency for every gateway call, as one plain ASGI middleware."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.routes import RouteTemplates
from services.common.metrics import REQUEST_LATENCY
from services.common.runtime import request_id_var

# A caller's id is carried on only when it is a sane token (it lands in every log line).
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Observe:
    """Sets the request id (the caller's or a new one) and observes latency by route template.

    Plain ASGI rather than `BaseHTTPMiddleware`: it sits on the dashboard's hot path and the
    SSE stream, and neither should pay for a wrapped response body.
    """

    def __init__(self, app: ASGIApp, *, templates: RouteTemplates, service: str = "gateway"):
        self.app = app
        self.templates = templates
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            REQUEST_LATENCY.labels(
                self.service, scope["method"], self._route(scope), str(status)
            ).observe(time.perf_counter() - start)

    def _route(self, scope: dict[str, Any]) -> str:
        if "plantrack.service" in scope:  # forwarded: label by the service's own route
            return self.templates.known(scope["path"]) or f"{scope['plantrack.service']}:unmatched"
        route = scope.get("route")
        return getattr(route, "path", "unmatched")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None
