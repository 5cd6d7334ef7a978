"""App factory of the events service: routes, the live roll-up consumer and progress notices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi import FastAPI

from services.common.runtime import Runtime, create_service_app
from services.common.settings import Settings, get_settings
from services.events import progress
from services.events.catalogue import load_catalogue
from services.events.events import LiveNotifier, ProgressTracker, rollup_consumer
from services.events.models import metadata, outbox
from services.events.router import router

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = (
    "Rolls the domain events up into every numeric target of the plan, exactly for any "
    "business date, and rebuilds the roll-ups from the stream on demand.\n\n"
    + progress.STATUS_RULES
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime(
        name="events",
        settings=settings,
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        outbox=outbox,
    )
    targets = load_catalogue()

    def today() -> date:
        return date.fromisoformat(settings.today) if settings.today else date.today()

    assert runtime.engine is not None
    tracker = ProgressTracker(
        engine=runtime.engine, targets=targets, assess=progress.assess_all, today=today
    )

    async def start_consumer(rt: Runtime) -> None:
        assert rt.js is not None and rt.engine is not None
        notifier = LiveNotifier(rt.js, settings)
        tracker.notifier = notifier
        try:
            await tracker.refresh()  # a baseline, so the first change is announced
        except Exception:  # the periodic refresh retries
            pass
        consumer = rollup_consumer(
            js=rt.js,
            engine=rt.engine,
            settings=settings,
            targets=targets,
            tracker=tracker,
            notifier=notifier,
        )
        app.state.consumer = consumer
        rt.spawn(tracker.run(), "progress")
        rt.spawn(consumer.run(), "rollup")

    runtime.on_nats(start_consumer)
    app = create_service_app(
        name="events",
        title="plantrack events",
        description=DESCRIPTION,
        settings=settings,
        runtime=runtime,
        routers=[router],
    )
    app.state.tracker = tracker
    return app
