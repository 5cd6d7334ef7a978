"""Target views are kept between writes, and never answer from before the last applied batch
(real NATS, the service's own consumer, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from services.events.targets import get_target, load_catalogue
from tests.conftest import auth
from tests.integration import rollup_kit as kit

SCHOOLS = get_target("schools")
PAST = date(2024, 6, 30)


async def _applied(app, n: int, timeout: float = 30.0) -> None:
    """Wait until the consumer has committed (and acked) n events."""
    deadline = time.monotonic() + timeout
    while app.state.consumer.applied < n:
        assert time.monotonic() < deadline, f"{app.state.consumer.applied} of {n} applied"
        await asyncio.sleep(0.005)


async def _schools(client, token: str, at: date | None = None) -> tuple[float, float]:
    """The schools target's value in the list and in its own view."""
    params = {} if at is None else {"as_of": at.isoformat()}
    listed = await client.get("/api/v1/targets", params=params, headers=auth(token))
    one = await client.get("/api/v1/targets/schools", params=params, headers=auth(token))
    assert listed.status_code == one.status_code == 200, (listed.text, one.text)
    item = next(i for i in listed.json()["items"] if i["id"] == "schools")
    return item["current_value"], one.json()["current_value"]


def _school_built(world: kit.World, on: date) -> int:
    pid = world.project("school", on)
    world.move(pid, "starting", on)
    world.move(pid, "building", on)
    world.move(pid, "built", on)
    return pid


async def test_every_read_after_a_batch_commits_sees_it_and_repeats_are_kept(
    events_service, tokens
):
    """Rounds of events, each read before and after it is applied: the kept view is served
    between rounds (no recomputation) and replaced the moment a batch commits, for today and
    for a past date alike."""
    client, app, settings = events_service
    js = app.state.runtime.js
    views = app.state.views
    world = kit.World()
    token = tokens["viewer"]
    published = 0
    for round_ in range(6):
        # A school built on the past date moves both today's value and the past one.
        _school_built(world, PAST if round_ % 2 else kit.TODAY)
        fresh = world.events[published:]
        published = len(world.events)
        await kit.publish(js, settings, fresh)
        await _applied(app, published)
        today_value = kit.truth(SCHOOLS, world.events, kit.TODAY)
        past_value = kit.truth(SCHOOLS, world.events, PAST)
        assert await _schools(client, token) == (today_value, today_value)
        assert await _schools(client, token, PAST) == (past_value, past_value)
        computed = views.computed
        assert await _schools(client, token) == (today_value, today_value)
        assert await _schools(client, token, PAST) == (past_value, past_value)
        assert views.computed == computed, "a repeated read is served from the kept views"
    assert kit.truth(SCHOOLS, world.events, kit.TODAY) == 6


async def test_readers_during_a_drain_never_see_less_than_what_was_committed_before_asking(
    events_service, tokens
):
    """Readers hammer the views while the consumer applies batch after batch: every answer
    counts at least the schools committed before its request was sent."""
    client, app, settings = events_service
    js = app.state.runtime.js
    world = kit.World()
    for _ in range(150):
        _school_built(world, kit.TODAY)
    events = world.events
    # The truth after the first n events: schools whose "built" event is among them.
    built_by = [0] * (len(events) + 1)
    for n, event in enumerate(events, start=1):
        built_by[n] = built_by[n - 1] + (event.payload.get("to") == "built")
    token = tokens["viewer"]
    seen: list[int] = []  # events committed before each read
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            committed = app.state.consumer.applied
            listed, one = await _schools(client, token)
            assert listed >= built_by[committed] and one >= built_by[committed], (
                f"served {listed}/{one} after {built_by[committed]} schools were committed"
            )
            seen.append(committed)

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    try:
        # Published in slices, each once a read has come back since the last one, so batches
        # keep committing while the readers read.
        for start in range(0, len(events), 60):
            reads = len(seen)
            await kit.publish(js, settings, events[start : start + 60])
            while len(seen) == reads and not any(r.done() for r in readers):
                await asyncio.sleep(0.005)
        await _applied(app, len(events))
    finally:
        done.set()
        await asyncio.gather(*readers)
    assert len([c for c in seen if 0 < c < len(events)]) >= 3, f"reads mid-drain: {seen}"
    assert await _schools(client, token) == (150, 150)


async def test_a_report_is_served_the_moment_it_is_made(events_service, tokens):
    """A report is written by the request itself: the next read shows it, kept view or not."""
    client, _, _ = events_service
    reported = next(
        t.id
        for t in load_catalogue()
        if t.source == "reported" and t.window.start.year == 2023 and t.window.end.year == 2025
    )
    for value in (10.0, 12.5):
        r = await client.post(
            f"/api/v1/targets/{reported}/reports",
            json={"value": value, "period": "2024"},
            headers=auth(tokens["admin"]),
        )
        assert r.status_code == 201, r.text
        one = await client.get(f"/api/v1/targets/{reported}", headers=auth(tokens["viewer"]))
        assert one.json()["current_value"] == value
