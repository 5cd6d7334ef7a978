"""Stand-in services for the gateway tests: real HTTP servers that verify tokens as services do."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

from services.common.auth import ProjectWriter, Reader, TargetReporter
from services.common.errors import install_problem_handlers
from services.common.natsserver import free_port
from services.common.settings import Settings

TARGET = {
    "id": "t50_schools",
    "clause": "50",
    "chapter": "五",
    "title": "新建改扩建学校13所",
    "unit": "所",
    "measure": "new",
    "source": "projects",
    "target_value": 13,
    "baseline_value": 0,
    "current_value": 4,
    "progress": 0.31,
    "expected_now": 8.7,
    "forecast": 11,
    "forecast_reserve": 2,
    "status": "behind",
    "final": False,
    "sdg_ratio": None,
    "sdg_category": "not_assessable",
    "after_plan": None,
    "deadline": "2025-12-31",
    "internal_note": "not part of the overview",
}

PROJECT = {
    "id": 12,
    "name": "芝罘区某小学新建工程",
    "milestones": [
        {"kind": "start", "title": "开工", "due_on": "2020-03-01", "done_on": None},
        {"kind": "approval", "title": "立项", "due_on": "2020-01-01", "done_on": "2020-01-02"},
    ],
}


@dataclass
class Upstream:
    """What a stand-in answers, and what it was asked."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # the last, per call


def upstream_app(up: Upstream, settings: Settings) -> FastAPI:
    """A stand-in for the service `up.name`: the routes the gateway calls, tokens verified."""
    app = FastAPI(title=f"stand-in {up.name}")
    app.state.settings = settings
    app.state.secret = settings.signing_secret()
    install_problem_handlers(app)

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        key = f"{request.method} {request.url.path}"
        up.calls[key] += 1
        up.headers[key] = dict(request.headers)
        return await call_next(request)

    @app.get("/readyz")
    def readyz() -> dict[str, Any]:
        return {"ready": True, "service": up.name}

    ROUTES[up.name](app, up)
    return app


def _events(app: FastAPI, up: Upstream) -> None:
    @app.get("/api/v1/targets/summary")
    def summary(_: Reader) -> dict[str, Any]:
        return up.data.get("summary") or {
            "targets": {"total": 1, "items": [TARGET]},
            "designations_by_type": [{"type": "high_tech", "count": 3}],
            "pipeline_by_stage_category": [{"stage": "building", "category": "school", "count": 2}],
        }

    @app.post("/api/v1/targets/{target_id}/reports", status_code=201)
    def report(target_id: str, _: TargetReporter) -> dict[str, Any]:
        return {"target_id": target_id}


def _projects(app: FastAPI, up: Upstream) -> None:
    @app.get("/api/v1/pipeline")
    def pipeline(year: int, _: Reader) -> dict[str, Any]:
        return {
            "year": year,
            "batches": [
                {"batch": "built", "label": "建成一批", "planned": 5, "actual": [{"id": 1}]},
                {"batch": "reserve", "planned": 9, "actual": 7},
            ],
        }

    @app.get("/api/v1/projects")
    def projects(request: Request, _: Reader) -> dict[str, Any]:
        if request.query_params.get("overdue") == "true":
            # As the projects service answers: a list page leaves the milestones out.
            return up.data.get("overdue") or {
                "items": [{"id": 12, "name": PROJECT["name"]}],
                "total": 1,
            }
        return {"items": [], "total": 0, "query": str(request.url.query)}

    @app.post("/api/v1/projects", status_code=201)
    async def create(request: Request, principal: ProjectWriter) -> dict[str, Any]:
        body = await request.json()
        return {
            "id": 1,
            "stage": "reserve",
            "version": 1,
            "name": body.get("name"),
            "by": principal.subject,
        }

    @app.get("/api/v1/projects/export")
    def export(_: Reader) -> Response:
        return Response(b"x" * 300_000, media_type="text/csv")

    @app.get("/api/v1/projects/{project_id}")
    def detail(project_id: int, _: Reader) -> dict[str, Any]:
        return {**PROJECT, "id": project_id}


def _enterprises(app: FastAPI, up: Upstream) -> None:
    @app.get("/api/v1/designations/expiring")
    def expiring(_: Reader) -> dict[str, Any]:
        item = {
            "enterprise_id": 7,
            "enterprise_name": "烟台某某科技有限公司",
            "type": "high_tech",
            "expires_on": "2030-01-31",
        }
        return {"items": [item], "total": 1}


ROUTES = {"events": _events, "projects": _projects, "enterprises": _enterprises}


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """`app` behind a real uvicorn server in this event loop; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Stand:
    """Three stand-in services on real ports, each of which can be stopped and started again."""

    settings: Settings
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    stacks: dict[str, contextlib.AsyncExitStack] = field(default_factory=dict)

    def urls(self) -> dict[str, str]:
        return {f"{n}_url": f"http://127.0.0.1:{p}" for n, p in self.ports.items()}

    async def start(self, name: str) -> None:
        up = self.upstreams.setdefault(name, Upstream(name))
        port = self.ports.setdefault(name, free_port())
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(serve(upstream_app(up, self.settings), port))
        self.stacks[name] = stack

    async def stop(self, name: str) -> None:
        await self.stacks.pop(name).aclose()

    async def close(self) -> None:
        for name in list(self.stacks):
            await self.stop(name)


@contextlib.asynccontextmanager
async def gateway_over_stand(
    settings_factory: Any,
    *,
    gateway_kwargs: dict[str, Any] | None = None,
    over_http: bool = False,
    **overrides: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, Stand, FastAPI]]:
    """The gateway (lifespan running) in front of three stand-ins, with a client: in-process,
    or over a real socket when `over_http` (streamed responses need one)."""
    from gateway.app import create_app
    from tests.conftest import running_app

    base = settings_factory(**overrides)
    stand = Stand(base)
    for name in ("projects", "enterprises", "events"):
        await stand.start(name)
    settings = settings_factory(
        **{**overrides, **stand.urls()},
        subject_prefix=base.subject_prefix,
        stream=base.stream,
        live_stream=base.live_stream,
    )
    app = create_app(settings, **(gateway_kwargs or {}))
    try:
        if over_http:
            # English, as running_app's client asks (tests of the Chinese wording send their own)
            english = {"Accept-Language": "en"}
            async with (
                serve(app) as url,
                httpx.AsyncClient(base_url=url, timeout=10, headers=english) as client,
            ):
                yield client, stand, app
        else:
            async with running_app(app) as client:
                yield client, stand, app
    finally:
        await stand.close()
