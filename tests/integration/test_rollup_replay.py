"""Replay rebuilds every roll-up from the stream into a fresh generation and switches over:
the result equals the live one, events arriving meanwhile are kept, one replay at a time."""

from __future__ import annotations

import asyncio
import functools
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from services.common.envelope import utcnow
from services.events import replay
from services.events.app import create_app
from services.events.models import FACT_TABLES
from services.events.rollup import STATE
from tests.conftest import auth, running_app
from tests.integration import rollup_kit as kit
from tests.integration.test_rollup_truth import COUNTED, TODAY, assert_truth


def facts_of(engine, generation: int) -> dict[str, list[tuple]]:
    """Every fact row of a generation, without the generation column, in key order."""
    out = {}
    with engine.connect() as conn:
        for table in FACT_TABLES:
            cols = [c for c in table.columns if c.name != "generation"]
            keys = [c for c in table.primary_key.columns if c.name != "generation"]
            rows = conn.execute(
                select(*cols).where(table.c.generation == generation).order_by(*keys)
            )
            out[table.name] = [tuple(r) for r in rows]
    return out


def generations_present(engine) -> set[int]:
    with engine.connect() as conn:
        return {
            g
            for table in FACT_TABLES
            for g in conn.execute(select(table.c.generation).distinct()).scalars()
        }


async def current_values(client, token: str) -> dict[str, object]:
    r = await client.get("/api/v1/targets", headers=auth(token))
    return {t["id"]: (t["current_value"], t["forecast"], t["status"]) for t in r.json()["items"]}


@pytest.fixture
def settings(settings_factory, database_url_factory):
    return settings_factory(
        events_database_url=database_url_factory("events"),
        today=TODAY.isoformat(),
        consumer_batch=500,
        consumer_ack_wait_seconds=5,
    )


@functools.cache
def big_world() -> kit.World:
    """The big case's world, made once for both databases (the test only reads it)."""
    return kit.random_world(11, projects=22_000, enterprises=13_000, today=TODAY)


async def test_replay_equals_live_on_100000_events(settings, tokens):
    """The big case: 100,000 events rolled up live, then replayed into generation 2."""
    world = big_world()
    assert len(world.events) >= 100_000
    events = world.events[:100_000]
    app = create_app(settings)
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        js, engine = app.state.runtime.js, app.state.runtime.engine
        await kit.publish(js, settings, events)
        await kit.drained(js, settings, timeout=240)
        live_facts = facts_of(engine, 1)
        live_values = await current_values(client, tokens["viewer"])
        assert sum(len(rows) for rows in live_facts.values()) > 50_000

        r = await client.post("/api/v1/admin/replay", headers=auth(tokens["admin"]), timeout=300)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["generation"], body["previous_generation"]) == (2, 1)
        assert body["events"] == body["last_sequence"] == 100_000

        assert facts_of(engine, 2) == live_facts
        assert generations_present(engine) == {2}, "the old generation is dropped"
        assert await current_values(client, tokens["viewer"]) == live_values


async def test_events_arriving_during_a_replay_are_in_the_new_generation(settings, tokens):
    world = kit.random_world(5, projects=700, enterprises=500, today=TODAY)
    events = kit.shuffled(world.events, seed=9)
    half = len(events) // 2
    app = create_app(settings)
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        js = app.state.runtime.js
        await kit.publish(js, settings, events[:half])
        await kit.drained(js, settings)

        rebuild = asyncio.create_task(
            client.post("/api/v1/admin/replay", headers=auth(tokens["admin"]))
        )
        for start in range(half, len(events), 100):  # keeps publishing while it rebuilds
            await kit.publish(js, settings, events[start : start + 100])
            await asyncio.sleep(0.005)
        r = await rebuild
        assert r.status_code == 200, r.text
        await kit.drained(js, settings)
        await assert_truth(client, tokens["viewer"], world.events)
        assert generations_present(app.state.runtime.engine) == {2}


async def test_one_replay_at_a_time_and_a_dead_one_is_taken_over(settings, tokens):
    world = kit.random_world(6, projects=40, enterprises=30, today=TODAY)
    app = create_app(settings)
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        js, engine = app.state.runtime.js, app.state.runtime.engine
        await kit.publish(js, settings, world.events)
        await kit.drained(js, settings)
        # another replica's replay is building generation 2 right now
        assert await asyncio.to_thread(replay.begin, engine) == (1, 2)

        r = await client.post("/api/v1/admin/replay", headers=auth(tokens["admin"]))
        assert r.status_code == 409
        assert "already building generation 2" in r.json()["detail"]

        with engine.begin() as conn:  # … and then it died: its heartbeat stops
            conn.execute(update(STATE).values(replay_heartbeat_at=utcnow() - timedelta(minutes=5)))
        r = await client.post("/api/v1/admin/replay", headers=auth(tokens["admin"]))
        assert r.status_code == 200, r.text
        assert (r.json()["generation"], r.json()["previous_generation"]) == (3, 1)
        assert generations_present(engine) == {3}
        for at in (date(2024, 6, 30), TODAY):
            r = await client.get(
                "/api/v1/targets", params={"as_of": at.isoformat()}, headers=auth(tokens["viewer"])
            )
            values = {t["id"]: t["current_value"] for t in r.json()["items"]}
            assert {t.id: values[t.id] for t in COUNTED} == pytest.approx(
                {t.id: kit.truth(t, world.events, at) for t in COUNTED}
            )


async def test_replaying_an_empty_stream_switches_to_an_empty_generation(settings, tokens):
    app = create_app(settings)
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
        r = await client.post("/api/v1/admin/replay", headers=auth(tokens["admin"]))
        assert r.status_code == 200
        assert (r.json()["events"], r.json()["generation"]) == (0, 2)
        r = await client.get("/api/v1/targets/schools", headers=auth(tokens["viewer"]))
        assert r.json()["current_value"] == 0
