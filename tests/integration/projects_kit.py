"""Fixtures and small factories shared by the projects service tests (no tests of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.common.envelope import Event
from services.common.settings import Settings
from services.projects.app import create_app
from services.projects.models import outbox
from tests.conftest import auth, running_app

TODAY = "2024-06-01"


class Client(httpx.AsyncClient):
    """The service behind an httpx client, with the app and settings at hand for assertions."""

    app: Any
    settings: Settings


@pytest.fixture
async def client(
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
    tokens: dict[str, str],
) -> AsyncIterator[Client]:
    """The projects service on a fresh database (SQLite and PostgreSQL), as the project office."""
    settings = settings_factory(projects_database_url=database_url_factory("projects"), today=TODAY)
    app = create_app(settings)
    async with running_app(app) as c:
        # Stopping the runtime while it is still connecting to NATS can hang; start connected.
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), timeout=20)
        c.headers.update(auth(tokens["project_office"]))
        c.app = app  # type: ignore[attr-defined]
        c.settings = settings  # type: ignore[attr-defined]
        yield c  # type: ignore[misc]


def project_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "芝罘区某小学新建工程",
        "category": "school",
        "level": "district",
        "sub_district": "向阳街道",
        "lead_department": "区教体局",
        "plan_clause": "50",
        "quantity": 1,
        "total_investment_wan": 12000,
        "planned_start": "2024-03-01",
        "planned_completion": "2025-08-31",
    }
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/projects", json=project_body(**overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def move(
    client: httpx.AsyncClient, pid: int, to: str, on: str, note: str | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/v1/projects/{pid}/transitions", json={"to": to, "on": on, "note": note}
    )


def outbox_events(client: Any, type_: str | None = None) -> list[Event]:
    """The events the service has written to its outbox, oldest first."""
    engine = client.app.state.runtime.engine
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.data).order_by(outbox.c.seq)).scalars().all()
    events = [Event.from_bytes(r) for r in rows]
    return [e for e in events if type_ is None or e.type == type_]


def outbox_count(client: Any, type_: str) -> int:
    engine = client.app.state.runtime.engine
    with engine.connect() as conn:
        stmt = select(func.count()).select_from(outbox).where(outbox.c.type == type_)
        return conn.execute(stmt).scalar_one()


def problem_locs(r: httpx.Response) -> list[list[Any]]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["loc"] for e in r.json()["errors"]]


async def job_outcome(
    client: httpx.AsyncClient, accepted: httpx.Response, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Poll an import's job (its 202's Location) until it has finished; its last state."""
    assert accepted.status_code == 202, accepted.text[:2000]
    location = accepted.headers["location"]
    for _ in range(1200):
        job = (await client.get(location, headers=headers)).json()
        if job["status"] != "running":
            return job
        assert 0 <= job["rows_done"] <= job["rows_total"]
        await asyncio.sleep(0.25)
    raise AssertionError(f"the import job {location} did not finish in 5 minutes: {job}")
