"""Kept target views answered in front of the framework.

FastAPI's parsing of a request (its dependencies, one validation per query parameter) costs
several times what sending 100 kB of kept JSON does, so a kept view served through the route
would spend most of its time deciding what was asked. The route remains the authority: each time
it answers from a view it records which view the exact request (path and raw query string) named,
and how the key depends on the business date when `as_of` was left out. A later GET of the same
path and query string, from a caller whose token is valid and may read, is answered here from
that view when the view is kept at a clock reading begun after the request arrived (the same
rule as the route's, `ViewCache.kept`). Anything else (another path or query, no or a bad token,
a view to compute) goes on to the route, which answers, computes and records as always.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.auth import Permission, decode_token
from services.common.errors import DomainError
from services.events.views import ViewCache

KeyOf = Callable[[date], Hashable]
"""A view's key from the business date of the request (ignored when `as_of` was given)."""

REQUESTS_KEPT = 4096
"""Requests remembered at most (path and query string); the least recently asked go first."""


class KnownRequests:
    """Which view each request answered by the route named: (path, raw query) → route, key."""

    def __init__(self, kept: int = REQUESTS_KEPT) -> None:
        self.kept = kept
        self.answered = 0  # by the kept-view path, without the route
        self._known: OrderedDict[tuple[str, bytes], tuple[Any, KeyOf]] = OrderedDict()

    def remember(self, scope: Scope, key_of: KeyOf) -> None:
        if scope["method"] != "GET":
            return
        self._known[(scope["path"], scope["query_string"])] = (scope.get("route"), key_of)
        self._known.move_to_end((scope["path"], scope["query_string"]))
        while len(self._known) > self.kept:
            self._known.popitem(last=False)

    def find(self, scope: Scope) -> tuple[Any, KeyOf] | None:
        return self._known.get((scope["path"], scope["query_string"]))


class KeptViewPath:
    """ASGI middleware of the events service: GETs the route has answered before, served from
    their kept views without the route (see the module's description)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        views: ViewCache,
        requests: KnownRequests,
        today: Callable[[], date],
        secret: str,
    ) -> None:
        self.app = app
        self.views = views
        self.requests = requests
        self.today = today
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            known = self.requests.find(scope)
            if known is not None and self._may_read(scope):
                route, key_of = known
                body = await self.views.kept(key_of(self.today()))
                if body is not None:
                    self.requests.answered += 1
                    scope["route"] = route  # metrics label it as the route would
                    await _answer(send, body)
                    return
        await self.app(scope, receive, send)

    def _may_read(self, scope: Scope) -> bool:
        """A valid bearer token that may read; anything else is the route's to refuse."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return False
                try:
                    principal = decode_token(self.secret, token.strip())
                except DomainError:
                    return False
                return principal.can(Permission.read)
        return False


async def _answer(send: Send, body: bytes) -> None:
    """What the route's `Response(body, media_type="application/json")` sends."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode("latin-1")),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
