"""`Idempotency-Key` on every POST: a retry answers the first result again and changes nothing.

The key is kept in the service's own database (table `idempotency_key`), so it holds whoever
retries — the caller after a gateway timeout, the gateway, a second replica — and it outlives a
restart. A POST carrying the header is handled like this:

1. the key (scoped to the caller's subject, the method and the path) is claimed with the
   request's fingerprint (a digest of its body; a multipart body without its random boundary) in
   a short transaction of its own;
2. if the key was already claimed: the same fingerprint with a stored answer → that answer again
   (`Idempotent-Replayed: true`); the same fingerprint still running → 409 with `Retry-After`;
   another fingerprint → 422 naming the header;
3. otherwise the request runs; its answer is stored with the key as soon as it is complete
   (before any background work of the request starts). An answer of 500 or more releases the
   key, so the retry runs again (the request's own transaction did not commit).

If the process dies after the change committed but before its answer was stored, the key stays
claimed: later retries get 409 and never apply the change twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import db
from services.common.envelope import utcnow
from services.common.errors import PROBLEM_JSON
from services.common.i18n import Text, language_of, localise
from services.common.labels import MESSAGES, TITLES

HEADER = "idempotency-key"
TABLE = "idempotency_key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Only these answer headers are stored and replayed; the rest belong to the moment.
REPLAYED_HEADERS = ("content-type", "location", "etag", "content-disposition")


def idempotency_table(metadata: MetaData) -> Table:
    """The keys a service has seen, declared on the service's own metadata."""
    return Table(
        TABLE,
        metadata,
        Column("key", String(64), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status", Integer, nullable=True),  # NULL while the first request runs
        Column("headers", JSON, nullable=True),
        Column("body", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


class Idempotency:
    """ASGI middleware of a service: POSTs with `Idempotency-Key` run at most once per key."""

    def __init__(self, app: ASGIApp, *, engine: Engine, table: Table, secret: str) -> None:
        self.app = app
        self.engine = engine
        self.table = table
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER.encode()) if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not _VALID_KEY.match(key):
            await _problem(scope, send, 422, TITLES[422], MESSAGES("idem.key_shape"))
            return
        subject = self._subject(scope)
        if subject is None:  # not authenticated: the app answers 401 itself
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        scoped = _digest(f"{subject}\n{scope['method']}\n{scope['path']}\n{key}".encode())
        fingerprint = _fingerprint(scope, body)
        claimed = await to_thread.run_sync(self._claim, scoped, fingerprint)
        if claimed is not None:
            await self._answer_again(scope, send, claimed, fingerprint)
            return
        answer = _Recorder(send)

        async def store() -> None:
            if answer.status is not None and answer.status < 500:
                await to_thread.run_sync(self._store, scoped, answer)
                answer.stored = True

        # Stored as soon as the answer is complete: before the request's background work
        # (an import job) starts and takes the database's write lock for a long while.
        answer.on_complete = store
        try:
            await self.app(scope, _replay(body, receive), answer.send)
        finally:
            if not answer.stored:
                await to_thread.run_sync(self._release, scoped)

    def _subject(self, scope: Scope) -> str | None:
        from services.common.auth import decode_token

        scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            return decode_token(self.secret, token.strip()).subject
        except Exception:  # noqa: BLE001 - an invalid token: the app says 401
            return None

    def _claim(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        """None when this request now holds the key; else the row another request left.

        A key already claimed is read without writing, so a retry is answered even while a
        long import holds the database's write lock."""
        with db.reader(self.engine).connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.key == key)).first()
        if row is not None:
            return dict(row._mapping)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(self.table).values(key=key, fingerprint=fingerprint, created_at=utcnow())
                )
            return None
        except IntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(select(self.table).where(self.table.c.key == key)).first()
            if row is None:  # released meanwhile: claim it again
                return self._claim(key, fingerprint)
            return dict(row._mapping)

    def _store(self, key: str, answer: _Recorder) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(self.table)
                .where(self.table.c.key == key)
                .values(status=answer.status, headers=answer.kept_headers(), body=answer.body)
            )

    def _release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.key == key))

    async def _answer_again(
        self, scope: Scope, send: Send, row: dict[str, Any], fingerprint: str
    ) -> None:
        if row["fingerprint"] != fingerprint:
            await _problem(
                scope,
                send,
                422,
                MESSAGES("idem.reused_title"),
                MESSAGES("idem.reused"),
                loc=["header", "Idempotency-Key"],
            )
            return
        if row["status"] is None:
            await _problem(
                scope,
                send,
                409,
                MESSAGES("idem.running_title"),
                MESSAGES("idem.running"),
                headers=[(b"retry-after", b"2")],
                loc=["header", "Idempotency-Key"],
            )
            return
        headers = [(k.encode(), v.encode()) for k, v in (row["headers"] or {}).items()]
        headers.append((b"idempotent-replayed", b"true"))
        body = row["body"] or b""
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": row["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _Recorder:
    """Passes the answer on to the caller while keeping a copy to store."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.complete = False
        self.stored = False
        self.on_complete: Callable[[], Awaitable[None]] | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.complete and self.on_complete is not None:
                await self.on_complete()
        try:
            await self._send(message)
        except OSError:
            pass  # the caller left (a client timeout): the answer is still stored for its retry

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def kept_headers(self) -> dict[str, str]:
        return {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in self.headers
            if k.decode("latin-1").lower() in REPLAYED_HEADERS
        }


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fingerprint(scope: Scope, body: bytes) -> str:
    """The body's digest; a multipart body without its boundary, which differs on every send."""
    content_type = _header(scope, b"content-type") or ""
    found = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
    if content_type.startswith("multipart/") and found:
        body = body.replace(found.group(1).encode("latin-1"), b"")
    query = scope.get("query_string", b"")
    return _digest(query + b"\n" + body)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the caller's own messages (a disconnect when it leaves)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _problem(
    scope: Scope,
    send: Send,
    status: int,
    title: Text,
    detail: Text,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    loc: list[str] | None = None,
) -> None:
    """A problem answered before the app sees the request, in the language it asks for."""
    errors = [{"loc": loc or ["header", "Idempotency-Key"], "msg": detail}]
    language = language_of(_header(scope, b"accept-language") or "")
    problem = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors,
    }
    body = json.dumps(localise(problem, language), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
