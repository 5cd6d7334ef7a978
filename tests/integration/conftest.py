"""Fixtures shared by the integration tests of the events service."""

from __future__ import annotations

import asyncio

import pytest

from services.events.app import create_app
from tests.conftest import running_app
from tests.integration import rollup_kit as kit


@pytest.fixture
async def events_service(settings_factory, database_url_factory):
    """The events service in-process on its own database, its clock at kit.TODAY, once NATS is
    up: (client, app, settings)."""
    settings = settings_factory(
        events_database_url=database_url_factory("events"), today=kit.TODAY.isoformat()
    )
    app = create_app(settings)
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        yield client, app, settings
