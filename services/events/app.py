"""App factory of the events service: routes, the live roll-up consumer and progress notices."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, event
from starlette.middleware import Middleware

from services.common.contracts.calendar import Clock
from services.common.inbox import Consumer
from services.common.runtime import Runtime, create_service_app
from services.common.settings import Settings, get_settings
from services.events import progress
from services.events.consumer import LiveNotifier, ProgressTracker, announcer, rollup_consumer
from services.events.fastpath import KeptViewPath, KnownRequests
from services.events.live import LiveLane
from services.events.models import metadata, outbox
from services.events.router import router, warm
from services.events.targets import Target, load_catalogue
from services.events.views import ViewCache

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = (
    "Rolls the domain events up into every numeric target of the plan, exactly for any "
    "business date, and rebuilds the roll-ups from the stream on demand.\n\n"
    + progress.COUNTING_RULES
    + "\n"
    + progress.STATUS_RULES
)


def reading_engine(engine: Engine) -> Engine:
    """The engine reads go through. On SQLite a second engine without the kernel's
    BEGIN IMMEDIATE, so progress queries never hold the write lock the consumer needs
    (WAL readers and the writer do not block each other); on PostgreSQL the same one."""
    if engine.dialect.name != "sqlite":
        return engine
    reads = create_engine(
        engine.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=5
    )

    @event.listens_for(reads, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    return reads


async def _stop_when_cancelled(
    *loops: Consumer | ProgressTracker | LiveLane, reads: Engine
) -> None:
    """Ask the loops to stop when the runtime cancels its tasks: the NATS client can lose a
    cancel inside a fetch, and a loop told to stop ends after its current step."""
    try:
        await asyncio.Event().wait()
    finally:
        for loop in loops:
            loop.stop()
        reads.dispose()


def _consumer_starter(
    app: FastAPI, targets: list[Target], tracker: ProgressTracker, reads: Engine
) -> Callable[[Runtime], Awaitable[None]]:
    """The hook that starts the roll-up consumer and the progress tracker once NATS is up."""

    async def start(rt: Runtime) -> None:
        assert rt.nc is not None and rt.js is not None and rt.engine is not None
        notifier = LiveNotifier(rt.nc, rt.js, rt.settings)
        tracker.notifier = notifier
        try:
            await tracker.refresh()  # a baseline, so the first change is announced
        except Exception:  # the periodic refresh retries
            pass
        consumer = rollup_consumer(
            nc=rt.nc,
            js=rt.js,
            engine=rt.engine,
            settings=rt.settings,
            targets=targets,
            tracker=tracker,
        )
        lane = LiveLane(
            nc=rt.nc,
            domain_subjects=rt.settings.domain_subjects,
            consumer=consumer,
            after_commit=announcer(targets, tracker, at_once=True),
        )
        app.state.consumer = consumer
        app.state.lane = lane
        rt.spawn(_stop_when_cancelled(consumer, lane, tracker, reads=reads), "stopper")
        rt.spawn(tracker.run(), "progress")
        rt.spawn(lane.run(), "live-lane")
        rt.spawn(consumer.run(), "rollup")

    return start


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime(
        name="events",
        settings=settings,
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        outbox=outbox,
        clock=clock,
    )
    assert runtime.engine is not None
    targets = load_catalogue()
    reads = reading_engine(runtime.engine)
    views = ViewCache(reads)
    tracker = ProgressTracker(
        engine=reads,
        targets=targets,
        assess=progress.assess_all,
        today=runtime.calendar.today,
        warm=partial(warm, views),
    )
    requests = KnownRequests()
    app = create_service_app(
        name="events",
        title="plantrack events",
        description=DESCRIPTION,
        settings=settings,
        runtime=runtime,
        routers=[router],
        middleware=[
            Middleware(
                KeptViewPath,
                views=views,
                requests=requests,
                today=runtime.calendar.today,
                secret=settings.signing_secret(),
            )
        ],
    )
    runtime.on_nats(_consumer_starter(app, targets, tracker, reads))
    app.state.tracker = tracker
    app.state.reads = reads
    app.state.views = views
    app.state.requests = requests
    return app
