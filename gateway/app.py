"""App factory of the gateway: the one public API, the dashboard page, readiness of the whole."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway import guard, openapi, overview, proxy, stream
from gateway.accounts import oidc
from gateway.accounts import router as accounts_router
from gateway.accounts.service import AccountLocked, Accounts, AddressThrottled
from gateway.labels import MESSAGES
from gateway.observe import Observe
from gateway.overview import TTL_SECONDS
from gateway.ratelimit import RateLimiter, TooManyRequests
from gateway.routes import RouteTemplates
from services.common.auth import Role, issue_token
from services.common.contracts.calendar import Clock, system_clock
from services.common.errors import (
    NotFound,
    install_problem_handlers,
    problem,
    request_language,
    title_of,
)
from services.common.metrics import metrics_response
from services.common.runtime import Runtime, configure_logging
from services.common.settings import SERVICES, Settings, get_settings

STATIC = Path(__file__).parent / "static"
SERVICE_TOKEN_TTL = 3600.0


class ServiceToken:
    """The gateway's own viewer token for the calls it makes itself (the overview)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.value = ""
        self.renew_at = 0.0

    def __call__(self) -> str:
        if time.monotonic() >= self.renew_at:
            self.value = issue_token(
                self.secret, Role.viewer, subject="gateway", ttl_seconds=SERVICE_TOKEN_TTL
            )
            self.renew_at = time.monotonic() + SERVICE_TOKEN_TTL / 2
        return self.value


def create_app(
    settings: Settings | None = None,
    *,
    heartbeat_seconds: float = stream.HEARTBEAT_SECONDS,
    overview_ttl: float = TTL_SECONDS,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("gateway")
    # One line per upstream call would drown the gateway's own log; failures are logged anyway.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime = Runtime(name="gateway", settings=settings, clock=clock)
    templates = RouteTemplates()
    app = FastAPI(
        title="plantrack",
        version="1.0.0",
        description="The district plan's API: projects, enterprises, targets and the dashboard.",
        lifespan=_lifespan(runtime, templates, overview_ttl),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.secret = settings.signing_secret()
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.accounts = Accounts(settings, clock=clock or system_clock)
    app.state.oidc = None  # the single sign-on provider, when configured (set at start)
    app.state.heartbeat_seconds = heartbeat_seconds
    app.state.live_clients = stream.LiveClients()
    runtime.on_nats(lambda rt: stream.watch_live(rt, app.state.overview))
    install_problem_handlers(app)
    for retried in (TooManyRequests, AccountLocked, AddressThrottled):
        app.add_exception_handler(retried, _too_many)
    guard.install(app, upload_max_mb=settings.upload_max_mb)
    app.add_middleware(Observe, templates=templates)

    _health_routes(app, runtime)
    app.include_router(openapi.router)
    app.include_router(overview.router)
    app.include_router(stream.router)
    app.include_router(accounts_router.router)
    app.include_router(proxy.router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/app", include_in_schema=False)
    @app.get("/app/{page:path}", include_in_schema=False)
    def workbench() -> FileResponse:
        # One page for every address under /app/: the workbench picks the view from the path.
        return FileResponse(
            STATIC / "workbench" / "index.html", headers={"Cache-Control": "no-cache"}
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    openapi.mount_docs_assets(app)
    return app


def _lifespan(
    runtime: Runtime, templates: RouteTemplates, overview_ttl: float
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Upstream connections, the overview cache and NATS for as long as the app runs."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstreams = proxy.Upstreams(settings)
        app.state.upstreams = upstreams
        app.state.overview = overview.Overview(
            upstreams,
            token=ServiceToken(app.state.secret),
            today=runtime.calendar.today,
            ttl=overview_ttl,
        )
        app.state.openapi = openapi.Aggregate(app, upstreams, templates)
        accounts: Accounts = app.state.accounts
        accounts.migrate()
        sso = httpx.AsyncClient(timeout=10) if oidc.enabled(settings) else None
        app.state.oidc = oidc.Provider(settings, sso) if sso else None
        await runtime.start()
        runtime.spawn(app.state.openapi.prime(), "openapi")
        try:
            yield
        finally:
            await runtime.stop()
            await upstreams.aclose()
            accounts.close()
            if sso:
                await sso.aclose()

    return lifespan


async def _too_many(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyRequests | AccountLocked | AddressThrottled)
    headers = {"Retry-After": str(exc.extra.get("retry_after", 1))}
    return problem(
        exc.status,
        title_of(exc.status, exc.title),
        exc.detail,
        headers=headers,
        language=request_language(request),
        **exc.extra,
    )


def _health_routes(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz", tags=["health"], summary="Readiness of every service, database and NATS")
    async def readyz(request: Request, response: Response) -> dict[str, Any]:
        upstreams: proxy.Upstreams = request.app.state.upstreams

        async def one(name: str) -> tuple[str, dict[str, Any]]:
            try:
                r = await upstreams.client.get(upstreams.base[name] + "/readyz", timeout=2)
                body = r.json()
                return name, {**body, "ready": r.status_code == 200 and body.get("ready", False)}
            except (httpx.HTTPError, ValueError) as exc:
                return name, {"ready": False, "error": type(exc).__name__}

        services = dict(await asyncio.gather(*(one(n) for n in SERVICES)))
        nats = runtime.readiness()["nats"]
        ready = all(s["ready"] for s in services.values()) and nats["ready"]
        response.status_code = 200 if ready else 503
        return {"ready": ready, "services": services, "nats": nats}

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not guard.may_scrape(request, runtime.settings.metrics_token):
            raise NotFound(MESSAGES("no_metrics"), loc=["path"])
        return metrics_response()
