"""The gateway's request dependencies: who is calling, within their rate, with which rights.

A caller is known by a bearer token (an operations token or an API key) or by the session
cookie a person got at sign-in; cookie-authenticated writes must also carry the session's CSRF
token. They are coroutines: FastAPI runs a plain `def` dependency in a worker thread, a hop the
dashboard's hot path should not pay on every call (database look-ups go to a thread themselves).
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gateway.accounts.labels import MESSAGES
from gateway.accounts.service import API_KEY_PREFIX, Accounts, ActiveSession
from gateway.labels import MESSAGES as GATEWAY
from gateway.ratelimit import RateLimiter
from gateway.routes import SAFE_METHODS, permission_for
from services.common.auth import (
    Permission,
    Principal,
    bearer_token,
    current_principal,
    get_principal,
    issue_identity,
)
from services.common.errors import Forbidden, NotFound, Unauthorized

SESSION_COOKIE = "plantrack_session"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(Forbidden):
    """A cookie-authenticated write without the session's CSRF token, or from another site."""


async def identify(request: Request) -> Principal:
    """The caller, proved by a bearer token or a session cookie (401 when neither is good)."""
    if "authorization" in request.headers:
        token = bearer_token(request)
        if not token.startswith(API_KEY_PREFIX):
            return await get_principal(request)
        accounts: Accounts = request.app.state.accounts
        principal = await run_in_threadpool(accounts.api_key_principal, token)
        if principal is None:
            raise Unauthorized(MESSAGES("api_key_invalid"))
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized(MESSAGES("sign_in_first"))
        session = await current_session(request, cookie)
        if request.method not in SAFE_METHODS:
            check_csrf(request, session)
        principal = session.user.principal()
    request.state.principal = principal
    current_principal.set(principal)
    return principal


async def current_session(request: Request, cookie: str) -> ActiveSession:
    accounts: Accounts = request.app.state.accounts
    session = await run_in_threadpool(accounts.session, cookie)
    if session is None:
        raise Unauthorized(MESSAGES("session_ended"))
    request.state.session = session
    return session


def check_same_origin(request: Request) -> None:
    """Refuse a browser request another site made (its Origin names a different host)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfRefused(MESSAGES("other_site"))


def check_csrf(request: Request, session: ActiveSession) -> None:
    check_same_origin(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise CsrfRefused(
            MESSAGES("csrf"),
            loc=["header", "X-CSRF-Token"],
        )


async def authenticated(request: Request) -> Principal:
    """A valid credential (else 401), then one call from its allowance (else 429)."""
    principal = await identify(request)
    limiter: RateLimiter = request.app.state.limiter
    # Per subject: credentials that differ only in their encoding share one allowance.
    limiter.take(RateLimiter.key(f"{principal.kind}:{principal.roles_text}:{principal.subject}"))
    return principal


Authenticated = Annotated[Principal, Depends(authenticated)]


async def routed(request: Request, principal: Authenticated) -> Principal:
    """The permission the route table asks for this method and path (403 without it)."""
    path = request.url.path
    needed = permission_for(request.method, path)
    if needed is None:
        raise NotFound(GATEWAY("no_route", path=path), loc=["path"])
    if not principal.can(needed):
        raise Forbidden(
            GATEWAY(
                "role_may_not",
                roles=principal.roles_text,
                method=request.method,
                path=path,
                permission=needed.value,
            )
        )
    return principal


Routed = Annotated[Principal, Depends(routed)]


async def reader(principal: Authenticated) -> Principal:
    if not principal.can(Permission.read):
        raise Forbidden(GATEWAY("role_may_not_read", roles=principal.roles_text))
    return principal


GatewayReader = Annotated[Principal, Depends(reader)]


async def administrator(principal: Authenticated) -> Principal:
    if not principal.can(Permission.administer):
        raise Forbidden(GATEWAY("role_may_not_admin", roles=principal.roles_text))
    return principal


GatewayAdmin = Annotated[Principal, Depends(administrator)]


def upstream_authorization(request: Request) -> str | None:
    """What the services are shown: an operations token as it came; for a person or an API key
    the gateway verified, a short-lived identity it signs (username, name, roles, scope)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.kind == "token":
        return request.headers.get("authorization")
    identity = issue_identity(
        request.app.state.secret,
        username=principal.subject,
        display_name=principal.display_name,
        roles=principal.roles,
        sub_districts=principal.sub_districts,
        kind=principal.kind,
    )
    return f"Bearer {identity}"
