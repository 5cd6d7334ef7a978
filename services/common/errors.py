"""Domain errors and their one translation into RFC 9457 problem+json at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.storage import is_disk_full

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A rule of the domain was broken; `status` says how the edge reports it."""

    status = 400
    title = "Bad request"
    type = "about:blank"

    def __init__(
        self,
        detail: str,
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


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("body",)] or list(err.get("loc", ()))
        msg = err.get("msg", "invalid")
        ctx = err.get("ctx") or {}
        if "expected" in ctx and "expected" not in msg:
            msg = f"{msg} (expected {ctx['expected']})"
        out.append({"loc": loc, "msg": msg})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the app as problem+json, whatever raised it."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(
            exc.status, exc.title, exc.detail, errors=exc.errors, headers=headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        return problem(422, "Invalid input", f"Invalid fields: {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(exc.status_code, title, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(sa_exc.DataError)
    async def _data(_: Request, exc: sa_exc.DataError) -> JSONResponse:
        # The database refused a value the schema let through (a number out of its range,
        # a NUL character): bad input, not a failure of ours.
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return problem(
            422,
            "Invalid input",
            f"A value cannot be stored: {reason}. Check numbers are in range and text has no "
            "control characters.",
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
            "Service unavailable",
            "The database connection was lost; nothing was changed unless a later read shows it. "
            "Retry shortly.",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        if is_disk_full(exc):
            return disk_full(request, exc)
        logging.getLogger("plantrack").exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "An unexpected error occurred; it has been logged.")


def disk_full(request: Request, exc: BaseException) -> JSONResponse:
    """507: the write failed for want of disk space, nothing was written; readiness shows it."""
    import logging

    logging.getLogger("plantrack").error("disk full: %s", exc)
    storage = getattr(getattr(request.app.state, "runtime", None), "storage", None)
    if storage is not None:
        storage.noted_full()
    return problem(
        507,
        "Insufficient storage",
        "The server's disk is full, so nothing was written. Retry once space has been freed.",
        headers={"Retry-After": "30"},
        cause="disk_full",
    )
