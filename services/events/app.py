"""App factory of the events service."""

from pathlib import Path

from fastapi import FastAPI

from services.common.runtime import Runtime, create_service_app
from services.common.settings import Settings, get_settings
from services.events.models import metadata, outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime(
        name="events", settings=settings, metadata=metadata, migrations_dir=MIGRATIONS, outbox=outbox
    )
    return create_service_app(
        name="events",
        title="plantrack events",
        description="Rolls the domain events up into every numeric target of the plan.",
        settings=settings,
        runtime=runtime,
        routers=[],
    )
