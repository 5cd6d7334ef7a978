"""Single sign-on: OpenID Connect authorization code flow with PKCE against the district's provider.

Authlib builds the authorization request and the PKCE challenge; joserfc checks the ID token
(signature by the provider's published keys, issuer, audience, expiry, nonce). Roles come from
a configurable claim mapped to plantrack's roles; an account is created on first sign-in and
its roles follow the provider's at every sign-in after.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, insert, select, update

from gateway.accounts.labels import MESSAGES
from gateway.accounts.models import oidc_pending, users
from gateway.accounts.service import Accounts, SignedIn, User, as_utc
from services.common.auth import Role
from services.common.errors import DomainError, Forbidden, NotFound, Unauthorized
from services.common.settings import Settings

log = logging.getLogger("plantrack.accounts")

PENDING_FOR = timedelta(minutes=10)
METADATA_TTL = 3600.0


class ProviderUnavailable(DomainError):
    status = 502
    title = "Bad gateway"


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted path (e.g. `realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.replace(",", " ").split()
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def map_roles(settings: Settings, claims: dict[str, Any]) -> list[str]:
    """plantrack roles from the configured claim: mapped values, or role names as they are."""
    roles = []
    for value in as_list(claim_at(claims, settings.oidc_roles_claim)):
        mapped = settings.oidc_role_map.get(value)
        if mapped is None and value in Role.__members__:
            mapped = value
        if mapped is not None:
            roles.append(Role(mapped).value)
    return sorted(set(roles), key=[r.value for r in Role].index)


@dataclass
class Provider:
    """The provider's metadata and keys, fetched once an hour."""

    settings: Settings
    client: httpx.AsyncClient
    metadata: dict[str, Any] | None = None
    keys: KeySet | None = None
    fetched_at: float = 0.0

    async def load(self, *, refresh: bool = False) -> dict[str, Any]:
        if self.metadata is None or refresh or time.monotonic() - self.fetched_at > METADATA_TTL:
            issuer = (self.settings.oidc_issuer or "").rstrip("/")
            try:
                r = await self.client.get(f"{issuer}/.well-known/openid-configuration")
                r.raise_for_status()
                metadata = r.json()
                r = await self.client.get(metadata["jwks_uri"])
                r.raise_for_status()
                self.keys = KeySet.import_key_set(r.json())
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("single sign-on provider unavailable: %r", exc)
                raise ProviderUnavailable(MESSAGES("sso_unreachable")) from exc
            self.metadata, self.fetched_at = metadata, time.monotonic()
        return self.metadata

    def redirect_uri(self, base_url: str) -> str:
        return self.settings.oidc_redirect_url or f"{base_url.rstrip('/')}/auth/oidc/callback"

    async def authorization_url(
        self, accounts: Accounts, *, base_url: str, next_url: str
    ) -> tuple[str, str]:
        """Where to send the browser, and the round trip's state; the state, nonce and PKCE
        verifier are kept meanwhile."""
        metadata = await self.load()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(64)
        with accounts.engine.begin() as conn:
            conn.execute(
                delete(oidc_pending).where(
                    oidc_pending.c.created_at < accounts.clock() - PENDING_FOR
                )
            )
            conn.execute(
                insert(oidc_pending).values(
                    state=state,
                    code_verifier=verifier,
                    nonce=nonce,
                    next_url=next_url,
                    created_at=accounts.clock(),
                )
            )
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.settings.oidc_client_id,
            response_type="code",
            redirect_uri=self.redirect_uri(base_url),
            scope=self.settings.oidc_scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return url, state

    async def sign_in(
        self, accounts: Accounts, *, code: str, state: str, base_url: str, address: str
    ) -> tuple[SignedIn, str]:
        """Finish the round trip: exchange the code, check the ID token, sign the person in;
        answers the session and the page to return to."""
        pending = take_pending(accounts, state)
        if pending is None:
            raise Unauthorized(MESSAGES("sso_stale"))
        metadata = await self.load()
        try:
            r = await self.client.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri(base_url),
                    "code_verifier": pending["code_verifier"],
                },
                auth=(self.settings.oidc_client_id or "", self.settings.oidc_client_secret or ""),
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(MESSAGES("sso_unreachable")) from exc
        if r.status_code != 200 or "id_token" not in r.json():
            log.warning("single sign-on: the provider refused the code: %s", r.text[:200])
            raise Unauthorized(MESSAGES("sso_refused"))
        claims = self.verified_claims(r.json()["id_token"], nonce=pending["nonce"])
        return self.open_session(accounts, claims, address=address), pending["next_url"]

    def verified_claims(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        assert self.keys is not None and self.metadata is not None
        try:
            token = jwt.decode(id_token, self.keys)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.metadata["issuer"]},
                aud={"essential": True, "value": self.settings.oidc_client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            log.warning("single sign-on: ID token refused: %r", exc)
            raise Unauthorized(MESSAGES("sso_token")) from exc
        return dict(token.claims)

    def open_session(self, accounts: Accounts, claims: dict[str, Any], *, address: str) -> SignedIn:
        roles = map_roles(self.settings, claims)
        if not roles:
            raise Forbidden(MESSAGES("sso_no_role", claim=self.settings.oidc_roles_claim))
        subject = f"{claims['iss']} {claims['sub']}"
        username = str(claim_at(claims, self.settings.oidc_username_claim) or claims["sub"])
        display_name = str(claims.get("name") or username)
        scope = (
            as_list(claim_at(claims, self.settings.oidc_sub_district_claim))
            if self.settings.oidc_sub_district_claim
            else []
        )
        user = upsert_person(
            accounts,
            subject=subject,
            username=username,
            display_name=display_name,
            roles=roles,
            sub_districts=scope,
        )
        if user.disabled:
            raise Forbidden(MESSAGES("disabled"))
        log.info("account %s signed in by single sign-on from %s", user.username, address)
        return accounts.open_session(user, address=address)


def take_pending(accounts: Accounts, state: str) -> dict[str, Any] | None:
    """The round trip `state` names, used up (a replayed callback finds nothing)."""
    with accounts.engine.begin() as conn:
        row = conn.execute(select(oidc_pending).where(oidc_pending.c.state == state)).first()
        if row is None:
            return None
        conn.execute(delete(oidc_pending).where(oidc_pending.c.state == state))
    pending = dict(row._mapping)
    if accounts.clock() - as_utc(pending["created_at"]) > PENDING_FOR:  # type: ignore[operator]
        return None
    return pending


def upsert_person(
    accounts: Accounts,
    *,
    subject: str,
    username: str,
    display_name: str,
    roles: list[str],
    sub_districts: list[str],
) -> User:
    """The account linked to the provider's subject: created on first sign-in, its roles, name
    and scope then kept as the provider says."""
    with accounts.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.oidc_subject == subject)).first()
    if row is None:
        taken = None
        try:
            taken = accounts.get_user(username)
        except NotFound:
            pass
        if taken is not None:
            raise Forbidden(MESSAGES("sso_local_name", username=username))
        return accounts.add_user(
            username=username,
            display_name=display_name,
            roles=roles,
            sub_districts=sub_districts,
            oidc_subject=subject,
        )
    user = User.of(row)
    with accounts.engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                display_name=display_name[:100],
                roles=roles,
                sub_districts=sorted(set(sub_districts)),
                last_sign_in_at=accounts.clock(),
            )
        )
    return accounts.get_user(user.username)
