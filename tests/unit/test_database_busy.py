"""A busy or locked database is a 503 to retry wherever it is raised, middleware included."""

from __future__ import annotations

import sqlite3

import httpx
import psycopg
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from services.common.errors import install_problem_handlers


def app_whose_middleware_raises(exc: Exception) -> FastAPI:
    """An app whose outermost own middleware (as Idempotency-Key's claim is) raises `exc`,
    outside the routes' exception handlers."""
    app = FastAPI()
    install_problem_handlers(app)

    class Claim:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                raise exc

    app.add_middleware(Claim)
    return app


async def answer(exc: Exception) -> httpx.Response:
    app = app_whose_middleware_raises(exc)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.post("/api/v1/projects/import")


async def test_sqlite_locked_in_a_middleware_is_503_with_retry_after() -> None:
    r = await answer(sqlite3.OperationalError("database is locked"))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 503


async def test_a_postgresql_lock_timeout_in_a_middleware_is_503() -> None:
    r = await answer(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


async def test_any_other_error_in_a_middleware_is_still_500() -> None:
    r = await answer(RuntimeError("a bug"))
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
