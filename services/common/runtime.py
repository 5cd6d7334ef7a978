"""What every service process shares: database, NATS, outbox relay, health, metrics, request ids."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import Engine, MetaData, Table
from sqlmodel import Session
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import db, idempotency, jobs, sheet_guard
from services.common import nats as natsutil
from services.common.contracts.calendar import BusinessCalendar, Clock
from services.common.errors import (
    PreconditionFailed,
    PreconditionRequired,
    install_problem_handlers,
)
from services.common.labels import MESSAGES
from services.common.metrics import REQUEST_LATENCY, metrics_response
from services.common.outbox import Announce, Relay
from services.common.settings import Settings
from services.common.storage import Storage

log = logging.getLogger("plantrack")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(service: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s {service} %(levelname)s [%(request_id)s] %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    if not any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        root.handlers = [handler]
        root.setLevel(logging.INFO)


class Runtime:
    """A service's connections: its engine, NATS (connected in the background), and its relay."""

    def __init__(
        self,
        *,
        name: str,
        settings: Settings,
        metadata: MetaData | None = None,
        migrations_dir: Path | None = None,
        outbox: Table | None = None,
        clock: Clock | None = None,
        announce: Announce | None = None,
    ) -> None:
        self.name = name
        self.announce = announce
        self.settings = settings
        self.calendar = BusinessCalendar.from_settings(settings, clock=clock)
        self.metadata = metadata
        self.migrations_dir = migrations_dir
        self.outbox = outbox
        self.engine: Engine | None = (
            db.make_engine(settings.database_url(name), pool_size=settings.db_pool_size)
            if metadata is not None
            else None
        )
        url = settings.database_url(name) if metadata is not None else ""
        local = db.sqlite_path(url) if db.is_sqlite(url) else None
        self.storage = Storage(
            local.parent if local is not None else None, settings.min_free_disk_mb * 1024 * 1024
        )
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.relay: Relay | None = None
        self.nats_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._on_nats: list[Callable[[Runtime], Awaitable[None]]] = []
        self._stopping = False

    def on_nats(self, hook: Callable[[Runtime], Awaitable[None]]) -> None:
        """Run `hook` once NATS is connected and the streams exist (consumers start here)."""
        self._on_nats.append(hook)

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}:{name}")
        self._tasks.append(task)
        return task

    async def start(self) -> None:
        if self.engine is not None and self.migrations_dir is not None:
            await asyncio.to_thread(db.migrate, self.engine, self.migrations_dir)
        if self.engine is not None and db.is_sqlite(self.engine):
            self.spawn(self._checkpoints(), "checkpoint")
        self.spawn(self._connect_nats(), "nats")

    async def _checkpoints(self) -> None:
        """The WAL truncated to nothing now and then: SQLite's own checkpoints reuse the file
        but never shrink it, and one that a reader blocks lets it grow."""
        assert self.engine is not None
        while not self._stopping:
            await asyncio.sleep(db.CHECKPOINT_SECONDS)
            try:
                await asyncio.to_thread(db.checkpoint, self.engine)
            except Exception as exc:  # a full disk among others: tried again next time
                log.warning("%s: WAL checkpoint failed: %s", self.name, exc)

    async def _connect_nats(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                self.nc = await natsutil.connect(self.settings, name=f"plantrack-{self.name}")
                self.js = self.nc.jetstream(publish_async_max_pending=20_000)
                await natsutil.provision(self.js, self.settings)
                break
            except Exception as exc:
                log.warning("%s: NATS not reachable yet (%s); retrying", self.name, exc)
                if self.nc is not None:
                    try:
                        await self.nc.close()
                    except Exception:
                        pass
                    self.nc = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        if self._stopping:  # stopped while connecting: start nothing more
            return
        if self.outbox is not None and self.engine is not None:
            self.relay = Relay(
                engine=self.engine,
                table=self.outbox,
                js=self.js,
                service=self.name,
                subject_prefix=self.settings.domain_subjects,
                batch=self.settings.relay_batch,
                interval=self.settings.relay_interval_seconds,
                announce=self.announce,
                nc=self.nc,
                live_prefix=self.settings.live_subjects,
            )
            self.spawn(self.relay.run(), "relay")
        for hook in self._on_nats:
            await hook(self)
        self.nats_ready.set()

    async def stop(self) -> None:
        self._stopping = True
        if self.relay is not None:
            self.relay.stop()
        # A task may start another while we cancel (the NATS client can swallow a cancel):
        # keep cancelling until none is left.
        while self._tasks:
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, timeout=5)
                except BaseException:
                    pass
        if self.nc is not None:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=3)
            except Exception:
                pass
            if not self.nc.is_closed:
                try:
                    await self.nc.close()
                except Exception:
                    pass
        if self.engine is not None:
            self.engine.dispose()

    def wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        if self.engine is not None:
            try:
                db.ping(self.engine)
                checks["database"] = {"ready": True, "dialect": self.engine.dialect.name}
            except Exception as exc:
                checks["database"] = {"ready": False, "error": type(exc).__name__}
        checks["nats"] = {
            "ready": bool(self.nc is not None and self.nc.is_connected and self.nats_ready.is_set())
        }
        if self.engine is not None:
            checks["storage"] = self.storage.check()
        return checks

    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        assert self.engine is not None
        engine = db.reader(self.engine) if read_only else self.engine
        with Session(engine, expire_on_commit=False) as session:
            yield session


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(request: Request) -> Iterator[Session]:
    runtime: Runtime = request.app.state.runtime
    # Reads do not take SQLite's write lock, so they never hold up the writers (or the consumer).
    yield from runtime.session(read_only=request.method in ("GET", "HEAD"))


SessionDep = Annotated[Session, Depends(get_session)]


async def get_today(request: Request) -> date:
    """The business date of this request (see `services.common.contracts.calendar`)."""
    # async: no I/O here, and sync dependencies each cost a hop to a worker thread
    runtime: Runtime = request.app.state.runtime
    return runtime.calendar.today()


TodayDep = Annotated[date, Depends(get_today)]


def etag(version: int) -> str:
    return f'W/"{version}"'


def require_if_match(request: Request, current_version: int) -> None:
    """Optimistic concurrency: PATCH must name the version it read (428 missing, 412 stale)."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired(
            MESSAGES("if_match_required"),
            loc=["header", "If-Match"],
        )
    wanted = {t.strip() for t in header.split(",")}
    if "*" in wanted:
        return
    versions = {t.removeprefix("W/").strip('"') for t in wanted}
    if str(current_version) not in versions:
        raise PreconditionFailed(
            MESSAGES("if_match_stale", version=current_version),
            loc=["header", "If-Match"],
            extra={"current_version": current_version},
        )


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


GC_THRESHOLD = (20_000, 10, 10)
"""Allocations before a young-generation collection (Python's default is 700)."""


SWITCH_INTERVAL = 0.001
"""Seconds a busy thread holds the interpreter before another may take it (Python's default is
0.005)."""


def tune_gc() -> None:
    """Let the young generation grow before it is scanned: a consumer decoding thousands of
    events a second otherwise spends a tenth of its time collecting objects that reference
    counting frees anyway. Cycles are still collected, a little later.

    And hand the interpreter over sooner: a thread back from the database or the network
    waits for a busy one (a backlog's batch being decoded) to let go of it, by default up to
    5 ms each time; a transition's few statements and publishes would wait that long at every
    step while a backlog is applied."""
    gc.set_threshold(*GC_THRESHOLD)
    sys.setswitchinterval(SWITCH_INTERVAL)


def install_idempotency(app: FastAPI, runtime: Runtime) -> None:
    """POSTs honour `Idempotency-Key` wherever the service's database has the key table."""
    table = runtime.metadata.tables.get(idempotency.TABLE) if runtime.metadata else None
    if table is not None and runtime.engine is not None:
        app.add_middleware(
            idempotency.Idempotency, engine=runtime.engine, table=table, secret=app.state.secret
        )


def install_jobs(app: FastAPI, runtime: Runtime) -> None:
    """Import jobs wherever the service's database has the job table (ids `p-…`, `e-…`)."""
    table = runtime.metadata.tables.get(jobs.TABLE) if runtime.metadata else None
    if table is not None and runtime.engine is not None:
        app.state.jobs = jobs.Jobs(runtime.engine, table, prefix=runtime.name[0])


def create_service_app(
    *,
    name: str,
    title: str,
    settings: Settings,
    runtime: Runtime,
    routers: list[Any],
    description: str = "",
    middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """The app factory body shared by the services: lifespan, middleware, health and errors.
    `middleware` of the service's own runs innermost, inside request ids and metrics."""
    configure_logging(name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if getattr(app.state, "jobs", None) is not None:
            await asyncio.to_thread(app.state.jobs.interrupt_left_running)
        tune_gc()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.secret = settings.signing_secret()
    sheet_guard.configure(settings)
    install_problem_handlers(app)
    for inner in reversed(middleware):
        app.add_middleware(inner.cls, *inner.args, **inner.kwargs)
    install_idempotency(app, runtime)
    install_jobs(app, runtime)
    app.add_middleware(Observe, service=name)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/readyz", tags=["health"], summary="Readiness: database and NATS reachable")
    def readyz(response: Response) -> dict[str, Any]:
        checks = runtime.readiness()
        ready = all(c.get("ready") for c in checks.values())
        response.status_code = 200 if ready else 503
        return {"ready": ready, "service": name, "checks": checks}

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
    def metrics() -> Response:
        return metrics_response()

    for router in routers:
        app.include_router(router)
    return app


class Observe:
    """Sets the request id (the caller's `X-Request-ID` or a new one) for the logs and the
    answer, and observes each request's latency by route.

    Plain ASGI rather than `BaseHTTPMiddleware`, which costs every request a task group and a
    second pass over the answer's body through a memory stream."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500
        header = (b"x-request-id", rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0].lower() != header[0]]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_LATENCY.labels(self.service, scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return value.decode("latin-1") or None
    return None
