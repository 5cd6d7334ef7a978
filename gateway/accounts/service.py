"""People and their credentials: accounts, sign-in with lockout, sessions, API keys.

Everything here works on the accounts database through one `Accounts` object the gateway (and
the `plantrack user` command) holds; the clock is injected so that expiry can be tested.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.accounts import passwords
from gateway.accounts.labels import MESSAGES
from gateway.accounts.models import api_keys, login_throttle, sessions, users
from services.common import db
from services.common.auth import Principal, Role
from services.common.contracts.calendar import Clock, system_clock
from services.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
)
from services.common.settings import Settings

log = logging.getLogger("plantrack.accounts")

MIGRATIONS = Path(__file__).parent / "migrations"
API_KEY_PREFIX = "ptk_"
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")
MAX_LOCK = timedelta(days=1)
SLOWEST = 6  # a repeated failure's answer waits at most this many login_slowdown_seconds


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class BadCredentials(DomainError):
    status = 401
    title = "Unauthorized"
    delay = 0.0  # seconds the answer waits: repeated failures slow down before they lock


class AccountLocked(DomainError):
    status = 423
    title = "Locked"


class AddressThrottled(DomainError):
    status = 429
    title = "Too many requests"


BAD_CREDENTIALS = MESSAGES("bad_credentials")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    roles: list[str]
    sub_districts: list[str]
    disabled: bool
    version: int
    created_at: datetime
    last_sign_in_at: datetime | None
    has_password: bool

    @classmethod
    def of(cls, row: Row[Any]) -> User:
        m = row._mapping
        return cls(
            id=m["id"],
            username=m["username"],
            display_name=m["display_name"],
            roles=list(m["roles"]),
            sub_districts=list(m["sub_districts"]),
            disabled=bool(m["disabled"]),
            version=m["version"],
            created_at=as_utc(m["created_at"]),  # type: ignore[arg-type]
            last_sign_in_at=as_utc(m["last_sign_in_at"]),
            has_password=m["password_hash"] is not None,
        )

    def principal(self, kind: str = "session") -> Principal:
        return Principal(
            subject=self.username,
            roles=frozenset(Role(r) for r in self.roles),
            display_name=self.display_name,
            sub_districts=frozenset(self.sub_districts),
            kind=kind,
        )

    def public(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "roles": self.roles,
            "sub_districts": self.sub_districts,
            "disabled": self.disabled,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "last_sign_in_at": self.last_sign_in_at.isoformat() if self.last_sign_in_at else None,
        }


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie's value (given once, stored hashed) and its CSRF token."""

    user: User
    token: str
    csrf_token: str


@dataclass(frozen=True)
class ActiveSession:
    user: User
    id: str
    csrf_token: str


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not (2 <= len(name) <= 64) or not set(name) <= USERNAME_CHARS:
        raise Invalid(
            MESSAGES("username"),
            loc=["username"],
        )
    return name


def check_roles(roles: Iterable[str]) -> list[str]:
    out = []
    for role in roles:
        try:
            out.append(Role(role).value)
        except ValueError as exc:
            known = ", ".join(r.value for r in Role)
            message = MESSAGES("unknown_role", role=role, known=known)
            raise Invalid(message, loc=["roles"]) from exc
    if not out:
        raise Invalid(MESSAGES("no_role"), loc=["roles"])
    return sorted(set(out), key=[r.value for r in Role].index)


class Accounts:
    """The accounts database and the rules about it."""

    def __init__(self, settings: Settings, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.engine: Engine = db.make_engine(settings.database_url("gateway"), pool_size=5)
        self.hasher = passwords.hasher(settings)
        # Verified against when the username is unknown, so the answer takes as long.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def migrate(self) -> None:
        db.migrate(self.engine, MIGRATIONS)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_absolute_hours)

    # ---- users -------------------------------------------------------------------------------

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(users)).scalar_one()

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [User.of(r) for r in rows]

    def get_user(self, username: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username.lower())).first()
        if row is None:
            raise NotFound(MESSAGES("no_user", username=username), loc=["username"])
        return User.of(row)

    def add_user(
        self,
        *,
        username: str,
        display_name: str | None = None,
        roles: Iterable[str],
        sub_districts: Iterable[str] = (),
        password: str | None = None,
        oidc_subject: str | None = None,
    ) -> User:
        """A new account; with `password` checked against the policy and hashed."""
        name = check_username(username)
        role_list = check_roles(roles)
        scope = sorted({s.strip() for s in sub_districts if s.strip()})
        password_hash = None
        if password is not None:
            passwords.check_policy(
                password, username=name, min_length=self.settings.password_min_length
            )
            password_hash = self.hasher.hash(password)
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.username == name)).first():
                raise Conflict(MESSAGES("user_exists", username=name), loc=["username"])
            conn.execute(
                insert(users).values(
                    username=name,
                    display_name=(display_name or name).strip()[:100],
                    roles=role_list,
                    sub_districts=scope,
                    password_hash=password_hash,
                    oidc_subject=oidc_subject,
                    disabled=False,
                    version=1,
                    created_at=self.clock(),
                )
            )
        log.info("account %s created (roles %s, scope %s)", name, role_list, scope or "all")
        return self.get_user(name)

    def update_user(
        self, username: str, *, changes: dict[str, Any], if_version: int | None = None
    ) -> User:
        """Change display name, roles, scope or the disabled flag; disabling ends every session."""
        user = self.get_user(username)
        if if_version is not None and if_version != user.version:
            raise PreconditionFailed(
                MESSAGES("user_stale", version=user.version),
                extra={"current_version": user.version},
            )
        values: dict[str, Any] = {}
        if changes.get("display_name") is not None:
            values["display_name"] = str(changes["display_name"]).strip()[:100]
        if changes.get("roles") is not None:
            values["roles"] = check_roles(changes["roles"])
        if changes.get("sub_districts") is not None:
            values["sub_districts"] = sorted({s.strip() for s in changes["sub_districts"]} - {""})
        if changes.get("disabled") is not None:
            values["disabled"] = bool(changes["disabled"])
        if not values:
            return user
        with self.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(**values, version=users.c.version + 1)
            )
            if Role.admin.value in user.roles and not user.disabled:
                self._keep_an_administrator(conn)
            if values.get("disabled"):
                self._revoke_sessions(conn, user.id)
        log.info("account %s changed: %s", user.username, sorted(values))
        return self.get_user(username)

    def set_disabled(self, username: str, disabled: bool) -> User:
        return self.update_user(username, changes={"disabled": disabled})

    def reset_password(self, username: str, password: str | None = None) -> tuple[User, str]:
        """A new password (given, or generated); every session ends and any lock is lifted."""
        user = self.get_user(username)
        new = password if password is not None else passwords.generate(user.username)
        passwords.check_policy(
            new, username=user.username, min_length=self.settings.password_min_length
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(password_hash=self.hasher.hash(new), version=users.c.version + 1)
            )
            self._revoke_sessions(conn, user.id)
            conn.execute(
                login_throttle.delete().where(login_throttle.c.key == f"user:{user.username}")
            )
        log.info("account %s: password reset", user.username)
        return self.get_user(username), new

    def _keep_an_administrator(self, conn: Any) -> None:
        """Refuse (and so roll back) a change to an administrator that leaves nobody able to
        manage accounts."""
        rows = conn.execute(select(users.c.roles).where(users.c.disabled.is_(False))).all()
        if not any(Role.admin.value in r.roles for r in rows):
            raise Conflict(MESSAGES("last_admin"))

    def _revoke_sessions(self, conn: Any, user_id: int) -> None:
        conn.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=self.clock())
        )

    # ---- sign-in -------------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, address: str) -> SignedIn:
        """Check the password under the lockout rules; a new session when it matches."""
        now = self.clock()
        name = username.strip().lower()
        user_key, addr_key = f"user:{name}"[:200], f"addr:{address}"[:200]
        with self.engine.connect() as conn:
            self._refuse_locked(conn, addr_key, user_key, now)
            row = conn.execute(select(users).where(users.c.username == name)).first()
        stored = row._mapping["password_hash"] if row is not None else None
        matches = passwords.verify(self.hasher, stored or self._dummy_hash, password)
        if not matches or stored is None:
            failures = self._failed(user_key, addr_key, now, username=name, address=address)
            refusal = BadCredentials(BAD_CREDENTIALS)
            # Each further wrong password is answered a little later, up to SLOWEST steps.
            refusal.delay = self.settings.login_slowdown_seconds * min(SLOWEST, failures - 1)
            raise refusal
        assert row is not None
        user = User.of(row)
        if user.disabled:
            raise Forbidden(MESSAGES("disabled"))
        with self.engine.begin() as conn:
            conn.execute(login_throttle.delete().where(login_throttle.c.key == user_key))
            values: dict[str, Any] = {"last_sign_in_at": now}
            if self.hasher.check_needs_rehash(stored):
                values["password_hash"] = self.hasher.hash(password)
                log.info("account %s: password rehashed at the current cost", name)
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
        log.info("account %s signed in from %s", name, address)
        return self.open_session(user, address=address)

    def _refuse_locked(self, conn: Any, addr_key: str, user_key: str, now: datetime) -> None:
        rows = conn.execute(
            select(login_throttle).where(login_throttle.c.key.in_([addr_key, user_key]))
        ).all()
        for r in rows:
            until = as_utc(r._mapping["locked_until"])
            if until is None or until <= now:
                continue
            wait = max(1, int((until - now).total_seconds()))
            minutes = -(-wait // 60)
            if r._mapping["key"] == addr_key:
                raise AddressThrottled(
                    MESSAGES("address_throttled", minutes=minutes),
                    extra={"retry_after": wait},
                )
            raise AccountLocked(
                MESSAGES("locked", minutes=minutes),
                extra={"retry_after": wait},
            )

    def _failed(self, user_key: str, addr_key: str, now: datetime, **who: str) -> int:
        """Count one failure against the account name and the address; lock past the limit.
        Answers how many failures the name has in the window."""
        try:
            return self._count_failure(user_key, addr_key, now, **who)
        except IntegrityError:  # a concurrent first failure inserted the row: count again
            return self._count_failure(user_key, addr_key, now, **who)

    def _count_failure(self, user_key: str, addr_key: str, now: datetime, **who: str) -> int:
        window = timedelta(minutes=self.settings.login_window_minutes)
        limits = {
            user_key: self.settings.login_max_failures,
            addr_key: self.settings.login_address_max_failures,
        }
        locked: list[tuple[str, timedelta]] = []
        counted: dict[str, int] = {}
        with self.engine.begin() as conn:
            for key, limit in limits.items():
                row = conn.execute(
                    select(login_throttle).where(login_throttle.c.key == key).with_for_update()
                ).first()
                if row is None:
                    conn.execute(
                        insert(login_throttle).values(
                            key=key, failures=1, window_started_at=now, locks=0
                        )
                    )
                    failures, locks = 1, 0
                else:
                    m = row._mapping
                    fresh = now - as_utc(m["window_started_at"]) > window  # type: ignore[operator]
                    failures = 1 if fresh else m["failures"] + 1
                    locks = m["locks"]
                    values: dict[str, Any] = {"failures": failures}
                    if fresh:
                        values["window_started_at"] = now
                    conn.execute(
                        update(login_throttle).where(login_throttle.c.key == key).values(**values)
                    )
                counted[key] = failures
                if failures >= limit:
                    # Each further lock doubles, so a patient guesser gains little.
                    span = min(
                        MAX_LOCK, timedelta(minutes=self.settings.login_lock_minutes) * 2**locks
                    )
                    conn.execute(
                        update(login_throttle)
                        .where(login_throttle.c.key == key)
                        .values(
                            failures=0,
                            window_started_at=now,
                            locks=locks + 1,
                            locked_until=now + span,
                        )
                    )
                    locked.append((key, span))
        log.info("failed sign-in for %s from %s", who["username"], who["address"])
        for key, span in locked:
            log.warning("sign-in locked for %s (%s) after repeated failures", key, span)
        if locked:
            with self.engine.connect() as conn:
                self._refuse_locked(conn, addr_key, user_key, now)
        return counted[user_key]

    # ---- sessions ------------------------------------------------------------------------------

    def open_session(self, user: User, *, address: str = "") -> SignedIn:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(
                insert(sessions).values(
                    id=_digest(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    address=address[:64],
                )
            )
        return SignedIn(user=user, token=token, csrf_token=csrf)

    def session(self, token: str) -> ActiveSession | None:
        """The live session the cookie names (None when unknown, revoked, idle or too old)."""
        now = self.clock()
        sid = _digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    users,
                    sessions.c.csrf_token,
                    sessions.c.created_at.label("session_created_at"),
                    sessions.c.last_seen_at,
                    sessions.c.revoked_at,
                )
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id == sid)
            ).first()
        if row is None:
            return None
        m = row._mapping
        last_seen, created = as_utc(m["last_seen_at"]), as_utc(m["session_created_at"])
        assert last_seen is not None and created is not None
        if (
            m["revoked_at"] is not None
            or m["disabled"]
            or now - last_seen >= self.idle
            or now - created >= self.lifetime
        ):
            return None
        # Written at most every few seconds of activity, not on every call.
        if now - last_seen >= min(timedelta(seconds=30), self.idle / 60):
            with self.engine.begin() as conn:
                conn.execute(update(sessions).where(sessions.c.id == sid).values(last_seen_at=now))
        return ActiveSession(user=User.of(row), id=sid, csrf_token=m["csrf_token"])

    def close_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == _digest(token), sessions.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )

    # ---- API keys ------------------------------------------------------------------------------

    def create_api_key(
        self, *, name: str, role: str, expires_at: datetime, created_by: str
    ) -> tuple[dict[str, Any], str]:
        """A new key: its row, and the key itself (shown once, stored only as a digest)."""
        role = check_roles([role])[0]
        if as_utc(expires_at) <= self.clock():  # type: ignore[operator]
            raise Invalid(MESSAGES("key_expiry_past"), loc=["expires_at"])
        public = secrets.token_hex(4)
        key = f"{API_KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            kid = conn.execute(
                insert(api_keys)
                .values(
                    name=name.strip()[:100],
                    role=role,
                    prefix=f"{API_KEY_PREFIX}{public}",
                    key_hash=_digest(key),
                    created_by=created_by,
                    created_at=self.clock(),
                    expires_at=expires_at,
                )
                .returning(api_keys.c.id)
            ).scalar_one()
        log.info("API key %s (%s, %s) created by %s", kid, name, role, created_by)
        return self.get_api_key(kid), key

    def get_api_key(self, key_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFound(MESSAGES("no_key", id=key_id), loc=["id"])
        return _key_public(row, self.clock())

    def list_api_keys(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.id)).all()
        return [_key_public(r, now) for r in rows]

    def revoke_api_key(self, key_id: int) -> None:
        self.get_api_key(key_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        log.info("API key %s revoked", key_id)

    def api_key_principal(self, key: str) -> Principal | None:
        """Who an API key speaks for (None when unknown, revoked or expired)."""
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == _digest(key))).first()
        if row is None:
            return None
        m = row._mapping
        if m["revoked_at"] is not None or as_utc(m["expires_at"]) <= now:  # type: ignore[operator]
            return None
        last = as_utc(m["last_used_at"])
        if last is None or now - last >= timedelta(minutes=1):
            with self.engine.begin() as conn:
                conn.execute(
                    update(api_keys).where(api_keys.c.id == m["id"]).values(last_used_at=now)
                )
        return Principal(
            subject=f"api-key:{m['id']}",
            roles=frozenset({Role(m["role"])}),
            display_name=m["name"],
            kind="api_key",
            token_id=str(m["id"]),
        )


def _key_public(row: Row[Any], now: datetime) -> dict[str, Any]:
    m = row._mapping
    expires, revoked, used = (
        as_utc(m["expires_at"]),
        as_utc(m["revoked_at"]),
        as_utc(m["last_used_at"]),
    )
    assert expires is not None
    state = "revoked" if revoked else "expired" if expires <= now else "active"
    return {
        "id": m["id"],
        "name": m["name"],
        "role": m["role"],
        "prefix": m["prefix"],
        "created_by": m["created_by"],
        "created_at": as_utc(m["created_at"]).isoformat(),  # type: ignore[union-attr]
        "expires_at": expires.isoformat(),
        "revoked_at": revoked.isoformat() if revoked else None,
        "last_used_at": used.isoformat() if used else None,
        "state": state,
    }
