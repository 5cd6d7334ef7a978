"""What the gateway checks before anything else sees a request, and adds to every answer.

Three small ASGI middlewares, outermost first:
- `PathGuard` refuses (400) a path holding a dot segment (`..`, `.`), an encoded slash or
  backslash, or a control character, raw or percent-encoded, before authorisation or routing:
  the path forwarded is exactly the path checked.
- `BodyLimit` counts request bodies as they stream in: over the limit (JSON and other bodies
  `BODY_LIMIT_BYTES`, multipart uploads `PLANTRACK_UPLOAD_MAX_MB`) is 413, by the declared
  length at once or as soon as the count passes it, never after reading it all.
- `SecurityHeaders` adds `X-Content-Type-Options`, `Referrer-Policy` and, on pages, a
  Content-Security-Policy with `frame-ancestors 'none'`.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.labels import MESSAGES
from services.common.errors import PROBLEM_JSON, DomainError, title_of
from services.common.i18n import Text, language_of, localise

BODY_LIMIT_BYTES = 1024 * 1024
_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The API docs page (Swagger UI) starts itself with an inline script.
DOCS_POLICY = PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


class BodyTooLarge(DomainError):
    status = 413
    title = "Request body too large"


def path_problem(raw_path: bytes) -> Text | None:
    """Why the path is refused, or None when it is a plain path."""
    if b"\\" in raw_path or _ENCODED_SEPARATOR.search(raw_path):
        return MESSAGES("path.separator")
    decoded = unquote_to_bytes(raw_path)
    if _CONTROL.search(decoded):
        return MESSAGES("path.control")
    if any(segment in (b".", b"..") for segment in decoded.split(b"/")):
        return MESSAGES("path.dots")
    return None


class PathGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
            reason = path_problem(raw.split(b"?", 1)[0])
            if reason is not None and scope["type"] == "http":
                detail = MESSAGES("path_refused", reason=reason)
                await send_problem(scope, send, 400, detail, ["path"])
                return
        await self.app(scope, receive, send)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, upload_bytes: int, other_bytes: int = BODY_LIMIT_BYTES):
        self.app = app
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.upload_bytes if upload else self.other_bytes
        what, what_zh = ("an upload", "上传文件") if upload else ("a request body", "请求体")
        detail = MESSAGES("body_too_large", what=what, what_zh=what_zh, limit=f"{limit:,}")
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await send_problem(scope, send, 413, detail, ["body"])
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(detail, loc=["body"])
            return message

        await self.app(scope, counted, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"].startswith("/docs") else PAGE_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    extra += [
                        (b"content-security-policy", policy.encode()),
                        (b"x-frame-options", b"DENY"),
                    ]
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def may_scrape(request: Any, token: str | None) -> bool:
    """/metrics answers a caller on this machine (not one relayed by a proxy) or one with the
    scrape token (`PLANTRACK_METRICS_TOKEN`)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return True
    host = request.client.host if request.client else ""
    return host in LOOPBACK and "x-forwarded-for" not in request.headers


def install(app: Any, *, upload_max_mb: int) -> None:
    """Add the three, so that the path is checked first and every answer gets the headers."""
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, upload_bytes=upload_max_mb * 1024 * 1024)
    app.add_middleware(PathGuard)


async def send_problem(scope: Scope, send: Send, status: int, detail: Text, loc: list[str]) -> None:
    """A problem answered before the app (and its handlers) sees the request, in the language
    the request's Accept-Language asks for."""
    headers = dict(scope.get("headers", ()))
    language = language_of(headers.get(b"accept-language", b"").decode("latin-1"))
    problem = {
        "type": "about:blank",
        "title": title_of(status),
        "status": status,
        "detail": detail,
        "errors": [{"loc": loc, "msg": detail}],
    }
    body = json.dumps(localise(problem, language), ensure_ascii=False).encode()
    length = str(len(body)).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", length)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
