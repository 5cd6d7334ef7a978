"""Target views are kept between writes, and never answer from before the last applied batch
(real NATS, the service's own consumer, SQLite and PostgreSQL), whether the route answers or the
kept-view path in front of it does."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from services.common.auth import Role, issue_token
from services.events.targets import get_target, load_catalogue
from services.events.views import ClockReads, Reading, tick
from tests.conftest import TEST_SECRET, auth
from tests.integration import rollup_kit as kit

ROOT = Path(__file__).resolve().parents[2]

SCHOOLS = get_target("schools")
PAST = date(2024, 6, 30)


def _through(app) -> int:
    """How far into the stream the durable consumer has committed: every event up to there
    is applied, by it or, ahead of it, by the live lane (which it then counts a duplicate)."""
    return app.state.consumer.applied + app.state.consumer.duplicates


async def _applied(app, n: int, timeout: float = 30.0) -> None:
    """Wait until the first n events of the stream are committed (and acked)."""
    deadline = time.monotonic() + timeout
    while _through(app) < n:
        assert time.monotonic() < deadline, f"{_through(app)} of {n} applied"
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
        computed = (views.computed["targets"], views.computed["target"])
        assert await _schools(client, token) == (today_value, today_value)
        assert await _schools(client, token, PAST) == (past_value, past_value)
        assert (views.computed["targets"], views.computed["target"]) == computed, (
            "a repeated read is served from the kept views"
        )
    assert kit.truth(SCHOOLS, world.events, kit.TODAY) == 6
    assert app.state.requests.answered >= 6 * 4, "repeats are answered in front of the route"


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
            committed = _through(app)
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


APPLY_ELSEWHERE = """
import sys
from services.common import db
from services.common.envelope import Event
from services.events.consumer import apply

engine = db.make_engine(sys.argv[1])
with engine.begin() as conn:
    apply(conn, [Event.from_bytes(line) for line in sys.stdin.buffer.read().splitlines()])
engine.dispose()
"""


def _apply_in_another_process(url: str, events: list) -> None:
    """Events applied and committed by another process (another replica's consumer, say):
    nothing in this process hears of it."""
    subprocess.run(
        [sys.executable, "-c", APPLY_ELSEWHERE, url],
        input=b"\n".join(e.to_bytes() for e in events),
        cwd=ROOT,
        check=True,
        timeout=120,
    )


async def test_a_write_committed_by_another_process_is_seen_by_the_next_read(
    events_service, tokens
):
    """Views kept and answered in front of the route; then another process commits a batch;
    the very next read, on the same kept-view path, counts it (today and a past date)."""
    client, app, settings = events_service
    world = kit.World()
    token = tokens["viewer"]
    for round_ in range(3):
        before = app.state.requests.answered
        assert await _schools(client, token) == (round_, round_)
        assert await _schools(client, token) == (round_, round_)
        assert await _schools(client, token, PAST) == (round_, round_)
        assert await _schools(client, token, PAST) == (round_, round_)
        assert app.state.requests.answered > before, "the repeats came from the kept views"
        start = len(world.events)
        _school_built(world, PAST)
        _apply_in_another_process(settings.database_url("events"), world.events[start:])
    assert await _schools(client, token) == (3, 3)
    assert await _schools(client, token, PAST) == (3, 3)


class HeldReads(ClockReads):
    """Clock readings that, once told, hold their answer after querying until released."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.holding = False
        self.queried = threading.Event()
        self.release = threading.Event()

    def _read(self) -> Reading:
        reading = super()._read()
        if self.holding:
            self.holding = False
            self.queried.set()
            self.release.wait(60)
        return reading


async def test_a_request_never_takes_a_clock_reading_begun_before_it_arrived(events_service):
    """While one reading is under way, a write commits and requests arrive: they do not take
    that reading but wait for the next, all of them for the same one, and no other reading
    runs meanwhile."""
    _, app, _ = events_service
    clock = HeldReads(app.state.reads)
    base = await clock.read()
    clock.holding = True
    first = asyncio.ensure_future(clock.read())
    await asyncio.to_thread(clock.queried.wait, 60)  # queried, its answer not yet given
    with app.state.runtime.engine.begin() as conn:
        tick(conn)  # committed after that query: the reading under way does not count it
    later = [asyncio.ensure_future(clock.read()) for _ in range(20)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert not any(r.done() for r in later)
    assert clock.queries == 2, "no second reading while the first runs"
    clock.release.set()
    assert await first == base
    readings = await asyncio.gather(*later)
    assert set(readings) == {Reading(base.generation, base.ticks + 1)}
    assert clock.queries == 3, "the requests that waited shared one reading"


async def test_the_kept_view_path_refuses_nothing_itself(events_service, tokens):
    """Requests the route has answered before go on to it whenever they are not a reader's
    request for a kept view: no token, a bad or an expired one is the route's 401 and bad input
    its 422, each time; a reader's repeat is the same bytes and headers as the route's."""
    client, app, _ = events_service
    good = auth(tokens["viewer"], **{"X-Request-ID": "kept-1"})
    first = await client.get("/api/v1/targets/schools", headers=good)
    answered = app.state.requests.answered
    again = await client.get("/api/v1/targets/schools", headers=good)
    assert app.state.requests.answered == answered + 1
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.headers["x-request-id"] == "kept-1"
    expired = issue_token(TEST_SECRET, Role.viewer, ttl_seconds=-10)
    for headers in ({}, auth("not-a-token"), auth(expired), {"Authorization": "Basic eDp5"}):
        r = await client.get("/api/v1/targets/schools", headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"] == "application/problem+json"
    for _ in range(2):
        r = await client.get("/api/v1/targets?limit=0", headers=good)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]
    assert app.state.requests.answered == answered + 1
