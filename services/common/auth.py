"""JWT bearer auth with the contract's roles, checked by every service and by the gateway.

Two kinds of bearer token carry the same claims: operations tokens minted by `plantrack token`
(one `role`), and the signed identity the gateway passes for a person or an API key it has
verified (`roles`, `name`, `sub_districts`; a minute's lifetime). Either way the services check
the signature themselves and know who is asking.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from services.common.errors import Forbidden, Unauthorized
from services.common.i18n import Text
from services.common.labels import MESSAGES
from services.common.settings import Settings

ALGORITHM = "HS256"
ISSUER = "plantrack"


class Role(StrEnum):
    admin = "admin"
    project_office = "project_office"
    investment_promotion = "investment_promotion"
    viewer = "viewer"


class Permission(StrEnum):
    read = "read"
    write_projects = "write_projects"
    write_enterprises = "write_enterprises"
    report_targets = "report_targets"
    administer = "administer"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.project_office: frozenset(
        {Permission.read, Permission.write_projects, Permission.report_targets}
    ),
    Role.investment_promotion: frozenset(
        {Permission.read, Permission.write_enterprises, Permission.report_targets}
    ),
    Role.viewer: frozenset({Permission.read}),
}


IDENTITY_TTL_SECONDS = 60


class OutOfScope(Forbidden):
    """A person scoped to some sub-districts tried to change something outside them."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a username (or a token's subject), the roles held, and for a person
    scoped to some sub-districts (街道) the ones they may change (empty: the whole district)."""

    subject: str
    roles: frozenset[Role]
    display_name: str | None = None
    sub_districts: frozenset[str] = frozenset()
    kind: str = "token"  # "token" (operations), "session", "api_key"
    token_id: str | None = None

    @property
    def role(self) -> Role:
        """The strongest role held (for messages; rights come from all of them)."""
        return next(r for r in Role if r in self.roles)

    @property
    def roles_text(self) -> str:
        return ", ".join(r.value for r in Role if r in self.roles)

    def can(self, permission: Permission) -> bool:
        return any(permission in GRANTS[role] for role in self.roles)

    def may_change(self, sub_district: str | None) -> bool:
        return not self.sub_districts or sub_district in self.sub_districts

    def check_scope(self, *sub_districts: str | None) -> None:
        """Refuse (403, naming the scope) a change touching a sub-district outside the scope."""
        for sub_district in sub_districts:
            if not self.may_change(sub_district):
                scope = "、".join(sorted(self.sub_districts))
                where = sub_district or "（未填写所属街道）"
                raise OutOfScope(
                    Text(
                        f"您只能修改{scope}的记录，此记录属于{where}",
                        f"{self.subject} may change only records of {scope}; this one is of "
                        f"{sub_district or '(no sub-district)'}.",
                    ),
                    loc=["sub_district"],
                    extra={"scope": sorted(self.sub_districts)},
                )


current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "current_principal", default=None
)
"""The verified caller of the request being served, set where the token is checked; history
rows take the person's display name from it."""


def issue_identity(
    secret: str,
    *,
    username: str,
    display_name: str | None,
    roles: Iterable[str | Role],
    sub_districts: Iterable[str] = (),
    kind: str = "session",
    ttl_seconds: float = IDENTITY_TTL_SECONDS,
) -> str:
    """The signed identity the gateway passes to the services for a caller it has verified."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": username,
        "name": display_name,
        "roles": sorted(Role(r).value for r in roles),
        "sub_districts": sorted(sub_districts),
        "kind": kind,
        "iat": now,
        "exp": now + int(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def issue_token(
    secret: str, role: str | Role, *, subject: str | None = None, ttl_seconds: float = 8 * 3600
) -> str:
    role = Role(role)
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject or role.value,
        "role": role.value,
        "iat": now,
        "exp": now + int(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


VERIFIED_KEPT = 4096
"""Tokens whose signature was checked, kept so that a caller's next request is not checked
again (an HMAC and a JSON parse each time); each is used only until its `exp`."""
_verified: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()
_verified_lock = threading.Lock()


def decode_token(secret: str, token: str) -> Principal:
    """The principal of a valid token (401 otherwise); a token seen before is not checked again
    until it expires."""
    key = (secret, token)
    with _verified_lock:
        kept = _verified.get(key)
        if kept is not None and time.time() < kept[1]:
            _verified.move_to_end(key)
            return kept[0]
    principal, claims = _decode(secret, token)
    if isinstance(claims.get("exp"), int | float) and "nbf" not in claims:
        with _verified_lock:
            _verified[key] = (principal, float(claims["exp"]))
            while len(_verified) > VERIFIED_KEPT:
                _verified.popitem(last=False)
    return principal


def _decode(secret: str, token: str) -> tuple[Principal, dict[str, Any]]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized(MESSAGES("token_expired")) from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(MESSAGES("token_invalid")) from exc
    named = claims["roles"] if "roles" in claims else [claims.get("role")]
    try:
        roles = frozenset(Role(r) for r in named)
    except ValueError as exc:
        raise Unauthorized(MESSAGES("token_no_role")) from exc
    scope = claims.get("sub_districts") or []
    if not roles or not isinstance(scope, list):
        raise Unauthorized(MESSAGES("token_no_role"))
    principal = Principal(
        subject=str(claims["sub"]),
        roles=roles,
        display_name=claims.get("name"),
        sub_districts=frozenset(str(s) for s in scope),
        kind=str(claims.get("kind", "token")),
        token_id=claims.get("jti"),
    )
    return principal, claims


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(MESSAGES("token_missing"))
    return token.strip()


async def get_principal(request: Request) -> Principal:
    """The verified caller (401 otherwise). A coroutine, so that `current_principal` is set in
    the request's own context, which the handler then runs in."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    secret = (
        request.app.state.secret
        if hasattr(request.app.state, "secret")
        else settings.signing_secret()
    )
    principal = decode_token(secret, bearer_token(request))
    request.state.principal = principal
    current_principal.set(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission):  # noqa: ANN201 - a FastAPI dependency factory
    """A dependency that lets through only principals holding `permission`."""

    async def check(request: Request) -> Principal:
        # The principal is found here rather than through a sub-dependency: each dependency
        # FastAPI solves costs every request of every route a measurable share of its time.
        principal = await get_principal(request)
        if not principal.can(permission):
            raise Forbidden(
                MESSAGES("forbidden", roles=principal.roles_text, permission=permission.value)
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Permission.read))]
ProjectWriter = Annotated[Principal, Depends(require(Permission.write_projects))]
EnterpriseWriter = Annotated[Principal, Depends(require(Permission.write_enterprises))]
TargetReporter = Annotated[Principal, Depends(require(Permission.report_targets))]
Admin = Annotated[Principal, Depends(require(Permission.administer))]
