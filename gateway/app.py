"""App factory of the gateway: the one public API, the dashboard page, and readiness of the whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Response

from services.common.errors import install_problem_handlers
from services.common.metrics import latency_middleware, metrics_response
from services.common.runtime import Runtime, configure_logging, install_request_id
from services.common.settings import Settings, get_settings

UPSTREAMS = ("projects", "enterprises", "events")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("gateway")
    runtime = Runtime(name="gateway", settings=settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.http = httpx.AsyncClient(
            timeout=settings.upstream_timeout_seconds,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await app.state.http.aclose()

    app = FastAPI(title="plantrack", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.secret = settings.signing_secret()
    install_problem_handlers(app)
    install_request_id(app)
    app.middleware("http")(latency_middleware("gateway"))

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz", tags=["health"])
    async def readyz(response: Response) -> dict[str, Any]:
        async def one(name: str) -> tuple[str, dict[str, Any]]:
            url = getattr(settings, f"{name}_url") + "/readyz"
            try:
                r = await app.state.http.get(url, timeout=2)
                body = r.json()
                return name, {"ready": r.status_code == 200 and body.get("ready", False), **body}
            except (httpx.HTTPError, ValueError) as exc:
                return name, {"ready": False, "error": type(exc).__name__}

        services = dict(await asyncio.gather(*(one(n) for n in UPSTREAMS)))
        nats = runtime.readiness()["nats"]
        ready = all(s["ready"] for s in services.values()) and nats["ready"]
        response.status_code = 200 if ready else 503
        return {"ready": ready, "services": services, "nats": nats}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return metrics_response()

    return app
