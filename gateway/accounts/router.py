"""HTTP routes of sign-in and account management: /auth/…, /api/v1/me, users, API keys."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from gateway.accounts import oidc
from gateway.accounts.labels import MESSAGES
from gateway.accounts.service import Accounts, BadCredentials, SignedIn
from gateway.deps import (
    SESSION_COOKIE,
    Authenticated,
    GatewayAdmin,
    check_csrf,
    check_same_origin,
)
from services.common.errors import Invalid, NotFound, PreconditionRequired, Unauthorized
from services.common.paging import Page, Paging

router = APIRouter(tags=["auth"])

OIDC_STATE_COOKIE = "plantrack_oidc_state"


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    display_name: str | None
    roles: list[str]
    sub_districts: list[str] = Field(description="The sub-districts this person may change; [] all")
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token on every cookie-authenticated write"
    )


class UserPublic(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    sub_districts: list[str]
    disabled: bool
    version: int
    created_at: datetime
    last_sign_in_at: datetime | None


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    display_name: str | None = Field(default=None, max_length=100)
    roles: list[str] = Field(min_length=1)
    sub_districts: list[str] = Field(default_factory=list)
    password: str | None = Field(
        default=None, max_length=256, description="Omitted: one is generated and answered once"
    )


class UserCreated(UserPublic):
    password: str | None = Field(description="The generated password, shown this once")


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=100)
    roles: list[str] | None = None
    sub_districts: list[str] | None = None
    disabled: bool | None = None


class PasswordReset(BaseModel):
    password: str | None = Field(default=None, max_length=256)


class NewPassword(BaseModel):
    username: str
    password: str = Field(description="The new password, shown this once")


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str
    expires_at: datetime = Field(description="ISO 8601 with an offset; must be in the future")


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: str = Field(description="active, expired or revoked")


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself, shown this once: Authorization: Bearer <key>")


def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id")]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def me_body(principal: Any, csrf_token: str | None) -> dict[str, Any]:
    return {
        "username": principal.subject,
        "display_name": principal.display_name,
        "roles": sorted(r.value for r in principal.roles),
        "sub_districts": sorted(principal.sub_districts),
        "csrf_token": csrf_token,
    }


def set_session_cookie(request: Request, response: Response, signed: SignedIn) -> None:
    settings = request.app.state.settings
    secure = settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(settings.session_absolute_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


async def read_login(request: Request) -> Login:
    """The credentials, as JSON or as a form."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        data: Any = {k: form.get(k) for k in ("username", "password")}
    else:
        try:
            data = await request.json()
        except ValueError as exc:
            raise Invalid(MESSAGES("body_form")) from exc
    if not isinstance(data, dict):
        raise Invalid(MESSAGES("body_object"))
    try:
        return Login.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


@router.post(
    "/auth/login",
    response_model=Me,
    summary="Sign in with username and password; sets the session cookie",
    responses={
        401: {"description": "Wrong username or password"},
        423: {"description": "Locked after repeated failures; Retry-After says for how long"},
        429: {"description": "Too many failures from this address"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": Login.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": Login.model_json_schema()},
            },
        }
    },
)
async def login(request: Request, accounts: AccountsDep) -> Response:
    check_same_origin(request)
    body = await read_login(request)
    try:
        signed = await run_in_threadpool(
            accounts.sign_in, body.username, body.password, address=client_address(request)
        )
    except BadCredentials as refusal:
        await asyncio.sleep(refusal.delay)  # in the loop: a slow answer holds no thread
        raise
    response = JSONResponse(me_body(signed.user.principal(), signed.csrf_token))
    set_session_cookie(request, response, signed)
    return response


@router.post("/auth/logout", status_code=204, summary="End the session; clears the cookie")
async def logout(request: Request, accounts: AccountsDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await run_in_threadpool(accounts.session, cookie)
        if session is not None:
            check_csrf(request, session)
            await run_in_threadpool(accounts.close_session, cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/api/v1/me", response_model=Me, summary="Who is signed in (or whose token this is)")
async def me(request: Request, principal: Authenticated) -> dict[str, Any]:
    session = getattr(request.state, "session", None)
    return me_body(principal, session.csrf_token if session else None)


# ---- single sign-on ---------------------------------------------------------------------------


def get_provider(request: Request) -> oidc.Provider:
    provider: oidc.Provider | None = request.app.state.oidc
    if provider is None:
        raise NotFound(MESSAGES("sso_off"))
    return provider


ProviderDep = Annotated[oidc.Provider, Depends(get_provider)]


def safe_next(next_url: str | None) -> str:
    """Only a page of this site: never an address another site could send a person to."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url[:300]
    return "/app/"


@router.get(
    "/auth/oidc/login",
    summary="Sign in with the district's single sign-on (OpenID Connect, code flow + PKCE)",
    status_code=302,
    responses={302: {"description": "To the provider"}, 404: {"description": "Not configured"}},
)
async def oidc_login(
    request: Request, accounts: AccountsDep, provider: ProviderDep, next: str | None = None
) -> RedirectResponse:
    url, state = await provider.authorization_url(
        accounts, base_url=str(request.base_url), next_url=safe_next(next)
    )
    response = RedirectResponse(url, status_code=302)
    # The round trip belongs to this browser: a callback carried to another one is refused.
    response.set_cookie(
        OIDC_STATE_COOKIE,
        state,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/auth/oidc",
    )
    return response


@router.get(
    "/auth/oidc/callback",
    summary="Where the provider returns: sets the session cookie, then back to the page",
    status_code=303,
    responses={303: {"description": "Signed in"}, 401: {"description": "Refused"}},
)
async def oidc_callback(
    request: Request,
    accounts: AccountsDep,
    provider: ProviderDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> Response:
    if error or not code or not state:
        raise Unauthorized(MESSAGES("sso_incomplete", error=error or "code"))
    if request.cookies.get(OIDC_STATE_COOKIE) != state:
        raise Unauthorized(MESSAGES("sso_other_browser"))
    signed, next_url = await provider.sign_in(
        accounts,
        code=code,
        state=state,
        base_url=str(request.base_url),
        address=client_address(request),
    )
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(request, response, signed)
    response.delete_cookie(OIDC_STATE_COOKIE, path="/auth/oidc")
    return response


# ---- users (admin) -----------------------------------------------------------------------------


@router.get("/api/v1/users", response_model=Page[UserPublic], summary="Every account")
def list_users(_: GatewayAdmin, accounts: AccountsDep, page: Paging) -> dict[str, Any]:
    items = [u.public() for u in accounts.list_users()]
    return {"items": items[page.offset : page.offset + page.limit], "total": len(items)}


@router.post("/api/v1/users", status_code=201, response_model=UserCreated, summary="New account")
def add_user(
    body: UserCreate, _: GatewayAdmin, accounts: AccountsDep, response: Response
) -> dict[str, Any]:
    from gateway.accounts import passwords

    generated = passwords.generate(body.username.strip())
    password = body.password if body.password is not None else generated
    user = accounts.add_user(
        username=body.username,
        display_name=body.display_name,
        roles=body.roles,
        sub_districts=body.sub_districts,
        password=password,
    )
    response.headers["ETag"] = f'"{user.version}"'
    return {**user.public(), "password": None if body.password is not None else password}


@router.get("/api/v1/users/{username}", response_model=UserPublic, summary="One account")
def get_user(username: str, _: GatewayAdmin, accounts: AccountsDep, response: Response) -> Any:
    user = accounts.get_user(username)
    response.headers["ETag"] = f'"{user.version}"'
    return user.public()


@router.patch(
    "/api/v1/users/{username}",
    response_model=UserPublic,
    summary="Change display name, roles, scope or disabled; If-Match required",
)
def update_user(
    username: str,
    body: UserUpdate,
    _: GatewayAdmin,
    accounts: AccountsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Any:
    if not if_match:
        raise PreconditionRequired(MESSAGES("if_match_required"))
    try:
        version = int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise Invalid(MESSAGES("if_match_invalid")) from exc
    changes = body.model_dump(exclude_unset=True)
    user = accounts.update_user(username, changes=changes, if_version=version)
    response.headers["ETag"] = f'"{user.version}"'
    return user.public()


@router.post(
    "/api/v1/users/{username}/reset-password",
    response_model=NewPassword,
    summary="A new password (given or generated); ends the person's sessions, lifts a lock",
)
def reset_password(
    username: str, _: GatewayAdmin, accounts: AccountsDep, body: PasswordReset | None = None
) -> dict[str, Any]:
    user, password = accounts.reset_password(username, body.password if body else None)
    return {"username": user.username, "password": password}


# ---- API keys (admin) --------------------------------------------------------------------------


@router.get("/api/v1/api-keys", response_model=Page[ApiKeyPublic], summary="Every API key")
def list_api_keys(_: GatewayAdmin, accounts: AccountsDep, page: Paging) -> dict[str, Any]:
    items = accounts.list_api_keys()
    return {"items": items[page.offset : page.offset + page.limit], "total": len(items)}


@router.post(
    "/api/v1/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="A key for an integration; the key is in this answer only",
)
def create_api_key(body: ApiKeyCreate, admin: GatewayAdmin, accounts: AccountsDep) -> Any:
    if body.expires_at.tzinfo is None:
        raise Invalid(MESSAGES("key_expiry_zone"), loc=["expires_at"])
    row, key = accounts.create_api_key(
        name=body.name, role=body.role, expires_at=body.expires_at, created_by=admin.subject
    )
    return {**row, "key": key}


@router.delete("/api/v1/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_api_key(key_id: KeyId, _: GatewayAdmin, accounts: AccountsDep) -> Response:
    accounts.revoke_api_key(key_id)
    return Response(status_code=204)
