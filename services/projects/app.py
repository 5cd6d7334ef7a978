"""App factory of the projects service."""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts.calendar import Clock
from services.common.runtime import Runtime, create_service_app
from services.common.settings import Settings, get_settings
from services.projects import execution_router, router
from services.projects.announce import announce
from services.projects.models import metadata, outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime(
        name="projects",
        settings=settings,
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        outbox=outbox,
        clock=clock,
        announce=announce,
    )
    return create_service_app(
        name="projects",
        title="plantrack projects",
        description="The project office's ledger of major projects and the rolling pipeline.",
        settings=settings,
        runtime=runtime,
        routers=[router.router, execution_router.router],
    )
