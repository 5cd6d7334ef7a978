"""Targets rolled up over real NATS equal a ground truth computed from the published snapshots,
whatever the order, duplicates or number of competing consumers."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from services.events.app import create_app
from services.events.targets import load_catalogue
from tests.conftest import auth, running_app
from tests.integration import rollup_kit as kit

TODAY = kit.TODAY
DATES = [date(2023, 1, 1), date(2023, 7, 15), date(2024, 2, 29), date(2024, 12, 31), TODAY]
COUNTED = [t for t in load_catalogue() if t.source != "reported"]


async def values_on(client, token: str, at: date) -> dict[str, float]:
    r = await client.get("/api/v1/targets", params={"as_of": at.isoformat()}, headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(load_catalogue())
    return {t["id"]: t["current_value"] for t in body["items"] if t["source"] != "reported"}


def expected_on(events, at: date) -> dict[str, float]:
    return {t.id: kit.truth(t, events, at) for t in COUNTED}


async def assert_truth(client, token: str, events) -> None:
    for at in DATES:
        assert await values_on(client, token, at) == pytest.approx(expected_on(events, at)), at


@pytest.fixture
def settings(settings_factory, database_url_factory):
    return settings_factory(
        events_database_url=database_url_factory("events"),
        today=TODAY.isoformat(),
        consumer_batch=40,
    )


async def test_shuffled_and_duplicated_events_give_the_ground_truth(settings, tokens):
    """Out of order, every event twice (same id and a fresh id): the values do not move."""
    world = kit.random_world(1, projects=160, enterprises=120, today=TODAY)
    app = create_app(settings)
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        js = app.state.runtime.js
        events = kit.shuffled(world.events)
        await kit.publish(js, settings, events)
        await kit.publish(js, settings, events[::3], msg_id=kit.fresh_id)
        await kit.publish(js, settings, events[::5])  # dropped by the stream's window
        await kit.drained(js, settings)
        assert app.state.consumer.duplicates >= len(events[::3])
        await assert_truth(client, tokens["viewer"], world.events)


async def test_competing_replicas_count_each_event_once(settings, tokens):
    """Two replicas on one database share the durable consumer: no double counting."""
    world = kit.random_world(2, projects=120, enterprises=80, today=TODAY)
    first, second = create_app(settings), create_app(settings)
    async with running_app(first) as client, running_app(second):
        for app in (first, second):
            await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        js = first.state.runtime.js
        await kit.publish(js, settings, kit.shuffled(world.events, seed=3))
        await kit.drained(js, settings)
        shares = [first.state.consumer.applied, second.state.consumer.applied]
        assert sum(shares) == len(world.events)
        assert all(shares), "both replicas took part"
        await assert_truth(client, tokens["viewer"], world.events)
