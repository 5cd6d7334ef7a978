"""JWT bearer auth with the contract's roles, checked by every service and by the gateway."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request

from services.common.errors import Forbidden, Unauthorized
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


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    token_id: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


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


def decode_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired; ask for a new one (plantrack token).") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The bearer token is not valid for this deployment.") from exc
    try:
        role = Role(claims.get("role"))
    except ValueError as exc:
        raise Unauthorized("The token names no known role.") from exc
    return Principal(subject=str(claims["sub"]), role=role, token_id=claims.get("jti"))


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: Bearer <token> is required.")
    return token.strip()


def get_principal(request: Request) -> Principal:
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
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission):  # noqa: ANN201 - a FastAPI dependency factory
    """A dependency that lets through only principals holding `permission`."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(
                f"The role '{principal.role.value}' may not do this (needs {permission.value})."
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Permission.read))]
ProjectWriter = Annotated[Principal, Depends(require(Permission.write_projects))]
EnterpriseWriter = Annotated[Principal, Depends(require(Permission.write_enterprises))]
TargetReporter = Annotated[Principal, Depends(require(Permission.report_targets))]
Admin = Annotated[Principal, Depends(require(Permission.administer))]
