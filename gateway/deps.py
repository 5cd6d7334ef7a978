"""The gateway's request dependencies: who is calling, within their rate, with which rights.

They are coroutines although they never await: FastAPI runs a plain `def` dependency in a
worker thread, a hop the dashboard's hot path should not pay on every call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.ratelimit import RateLimiter
from gateway.routes import permission_for
from services.common.auth import Permission, Principal, get_principal
from services.common.errors import Forbidden, NotFound


async def authenticated(request: Request) -> Principal:
    """A valid token (else 401), then one call from its allowance (else 429)."""
    principal = get_principal(request)
    limiter: RateLimiter = request.app.state.limiter
    # Per subject: tokens that differ only in their encoding share one allowance.
    limiter.take(RateLimiter.key(f"{principal.role.value}:{principal.subject}"))
    return principal


Authenticated = Annotated[Principal, Depends(authenticated)]


async def routed(request: Request, principal: Authenticated) -> Principal:
    """The permission the route table asks for this method and path (403 without it)."""
    path = request.url.path
    needed = permission_for(request.method, path)
    if needed is None:
        raise NotFound(f"No API route at {path}.", loc=["path"])
    if not principal.can(needed):
        raise Forbidden(
            f"The role '{principal.role.value}' may not {request.method} {path} "
            f"(needs {needed.value})."
        )
    return principal


Routed = Annotated[Principal, Depends(routed)]


async def reader(principal: Authenticated) -> Principal:
    if not principal.can(Permission.read):
        raise Forbidden(f"The role '{principal.role.value}' may not read.")
    return principal


GatewayReader = Annotated[Principal, Depends(reader)]
