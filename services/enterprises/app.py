"""App factory of the enterprises service."""

from pathlib import Path

from fastapi import FastAPI

from services.common.runtime import Runtime, create_service_app
from services.common.settings import Settings, get_settings
from services.enterprises.models import metadata, outbox

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime(
        name="enterprises", settings=settings, metadata=metadata, migrations_dir=MIGRATIONS, outbox=outbox
    )
    return create_service_app(
        name="enterprises",
        title="plantrack enterprises",
        description="The cultivated-enterprise registry and its designations.",
        settings=settings,
        runtime=runtime,
        routers=[],
    )
