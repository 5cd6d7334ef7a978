"""App factory of the enterprises service."""

from pathlib import Path

from fastapi import FastAPI

from services.common.contracts.calendar import Clock
from services.common.runtime import Runtime, create_service_app
from services.common.settings import Settings, get_settings
from services.enterprises.expiry import ExpiryScheduler
from services.enterprises.models import metadata, outbox
from services.enterprises.router import router

MIGRATIONS = Path(__file__).parent / "migrations"


class EnterprisesRuntime(Runtime):
    """The service's runtime, which also runs the designation expiry scheduler."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        super().__init__(
            name="enterprises",
            settings=settings,
            metadata=metadata,
            migrations_dir=MIGRATIONS,
            outbox=outbox,
            clock=clock,
        )
        self.expiry = ExpiryScheduler(self)

    async def start(self) -> None:
        # Expiry needs only the database (events wait in the outbox), so it does not wait for NATS.
        await super().start()
        self.spawn(self.expiry.run(), "expiry")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        name="enterprises",
        title="plantrack enterprises",
        description="The cultivated-enterprise registry and its designations.",
        settings=settings,
        runtime=EnterprisesRuntime(settings, clock=clock),
        routers=[router],
    )
