"""Domain errors and their one translation into RFC 9457 problem+json at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.i18n import Text, language_of, localise
from services.common.labels import MESSAGES, TITLES, VALIDATION
from services.common.storage import is_disk_full

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A rule of the domain was broken; `status` says how the edge reports it."""

    status = 400
    title = "Bad request"
    type = "about:blank"

    def __init__(
        self,
        detail: str | Text,
        *,
        loc: Sequence[str | int] | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if errors is None and loc is not None:
            errors = [{"loc": list(loc), "msg": detail}]
        self.errors = errors or []
        self.extra = extra or {}


class Invalid(DomainError):
    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    status = 428
    title = "Precondition required"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


def title_of(status: int, fallback: str | Text = "Error") -> Text | str:
    """The problem title of a status, in both languages."""
    return TITLES.get(status, fallback)


def problem(
    status: int,
    title: str | Text,
    detail: str | Text,
    *,
    errors: list[dict[str, Any]] | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    language: str = "zh",
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; every `Text` in it is given in `language`."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    body.update(extra)
    return JSONResponse(
        localise(body, language), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def request_language(request: Request) -> str:
    return language_of(request.headers.get("accept-language"))


def validation_text(err: dict[str, Any]) -> Text:
    """One pydantic error in both languages (the English is pydantic's own wording)."""
    msg = err.get("msg", "invalid")
    ctx = err.get("ctx") or {}
    if "expected" in ctx and "expected" not in msg:
        msg = f"{msg} (expected {ctx['expected']})"
    error = ctx.get("error")
    if isinstance(error, Exception) and error.args and isinstance(error.args[0], Text):
        return error.args[0]
    template = VALIDATION.get(err.get("type", ""))
    if template is None:
        return Text(f"值无效：{msg}", msg)
    try:
        zh = template.format(**{k: _plain_number(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        zh = template.split("：")[0].split("（")[0]
    return Text(zh, msg)


def _plain_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("body",)] or list(err.get("loc", ()))
        out.append({"loc": loc, "msg": validation_text(err)})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the app as problem+json, whatever raised it."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(
            exc.status,
            title_of(exc.status, exc.title),
            exc.detail,
            errors=exc.errors,
            headers=headers,
            language=request_language(request),
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        return problem(
            422,
            title_of(422),
            MESSAGES("invalid_fields", fields=fields),
            errors=errors,
            language=request_language(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str | Text) else str(exc.detail)
        if isinstance(detail, str) and detail == _phrase(exc.status_code):
            detail = title_of(exc.status_code, detail)  # Starlette's "Not Found": in both
        return problem(
            exc.status_code,
            title_of(exc.status_code),
            detail,
            headers=getattr(exc, "headers", None),
            language=request_language(request),
        )

    @app.exception_handler(sa_exc.DataError)
    async def _data(request: Request, exc: sa_exc.DataError) -> JSONResponse:
        # The database refused a value the schema let through (a number out of its range,
        # a NUL character): bad input, not a failure of ours.
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return problem(
            422,
            title_of(422),
            MESSAGES("db_value", reason=reason),
            language=request_language(request),
        )

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        import logging

        if is_disk_full(exc):
            return disk_full(request, exc)
        logging.getLogger("plantrack").warning("database unavailable: %s", exc)
        return problem(
            503,
            title_of(503),
            MESSAGES("db_away"),
            headers={"Retry-After": "1"},
            language=request_language(request),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        if is_disk_full(exc):
            return disk_full(request, exc)
        # Raised outside the routes (a middleware's own query, e.g. Idempotency-Key's claim),
        # a busy or locked database reaches only this handler: it is still a 503 to retry.
        if is_database_unavailable(exc):
            return await _database_away(request, exc)
        logging.getLogger("plantrack").exception("unhandled error", exc_info=exc)
        return problem(500, title_of(500), MESSAGES("internal"), language=request_language(request))


def _phrase(status: int) -> str | None:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def is_database_unavailable(exc: BaseException) -> bool:
    """A database that is busy, locked or away (SQLite `database is locked`, a PostgreSQL lock
    timeout, a lost connection), as SQLAlchemy or the driver itself raises it."""
    import sqlite3

    import psycopg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(
            seen,
            sa_exc.OperationalError
            | sa_exc.InterfaceError
            | sqlite3.OperationalError
            | psycopg.OperationalError,
        ):
            return True
        seen = seen.__cause__
    return False


def problem_body(
    exc: BaseException, language: str = "zh", *, detail: str | Text | None = None
) -> tuple[int, dict[str, Any]]:
    """The status and problem+json body the edge would answer for `exc` raised by a route (for
    work that finishes after its request, such as an import job)."""
    import json

    if isinstance(exc, DomainError):
        response = problem(
            exc.status,
            title_of(exc.status, exc.title),
            detail or exc.detail,
            errors=exc.errors,
            language=language,
            **exc.extra,
        )
    elif is_database_unavailable(exc) or detail is not None:
        response = problem(503, title_of(503), detail or MESSAGES("db_away"), language=language)
    else:
        response = problem(500, title_of(500), MESSAGES("internal"), language=language)
    return response.status_code, json.loads(bytes(response.body))


DISK_FULL_TITLE = Text("存储空间不足", "Insufficient storage")
DISK_FULL_DETAIL = Text(
    "服务器磁盘已满，本次未写入任何内容。请在释放空间后重试。",
    "The server's disk is full, so nothing was written. Retry once space has been freed.",
)


def disk_full(request: Request, exc: BaseException) -> JSONResponse:
    """507: the write failed for want of disk space, nothing was written; readiness shows it."""
    import logging

    logging.getLogger("plantrack").error("disk full: %s", exc)
    storage = getattr(getattr(request.app.state, "runtime", None), "storage", None)
    if storage is not None:
        storage.noted_full()
    return problem(
        507,
        DISK_FULL_TITLE,
        DISK_FULL_DETAIL,
        headers={"Retry-After": "30"},
        language=request_language(request),
        cause="disk_full",
    )
