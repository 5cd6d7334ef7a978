"""Targets rolled up over real NATS equal a ground truth computed from the published snapshots,
whatever the order, duplicates or number of competing consumers: values, and the forecast,
pace and status judged from them (by rules written again here, apart from the service)."""

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
CLOSED = date(2026, 3, 1)
"""After every counted target's deadline: final statuses and no forecast."""
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


async def views_on(client, token: str, at: date) -> dict[str, dict]:
    r = await client.get("/api/v1/targets", params={"as_of": at.isoformat()}, headers=auth(token))
    assert r.status_code == 200, r.text
    return {t["id"]: t for t in r.json()["items"] if t["source"] != "reported"}


def judged(view: dict) -> tuple:
    return (
        view["current_value"],
        view["forecast"],
        view["forecast_reserve"],
        view["forecast_lapsing"],
        view["status"],
        view["expected_now"],
    )


def truth_judged(target, events, at: date) -> tuple:
    forecast, reserve, lapsing = kit.truth_forecast(target, events, at)
    status, expected = kit.truth_status(target, events, at)
    return (
        kit.truth_value(target, events, at),
        forecast,
        reserve,
        lapsing,
        status,
        None if expected is None else pytest.approx(expected, abs=1e-4),
    )


async def assert_judged_truth(client, token: str, events) -> None:
    for at in [*DATES, CLOSED]:
        views = await views_on(client, token, at)
        for t in COUNTED:
            assert judged(views[t.id]) == truth_judged(t, events, at), (t.id, at)


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
        await assert_judged_truth(client, tokens["viewer"], world.events)


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
