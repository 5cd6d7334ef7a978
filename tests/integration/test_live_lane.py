"""The target change a transition causes, made while the roll-up works through a backlog, is
announced before the backlog is done, and the roll-up still comes out exact (real NATS, SQLite
and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from services.common import nats as natsutil
from services.events.app import create_app
from services.events.consumer import ROLLUP_CONSUMER
from services.events.targets import load_catalogue
from tests.conftest import auth, running_app
from tests.integration import rollup_kit as kit

BACKLOG = 30_000
COUNTED = [t for t in load_catalogue() if t.source != "reported"]


async def _backlog_left(js, settings) -> int:
    info = await js.consumer_info(settings.stream, ROLLUP_CONSUMER)
    return info.num_pending + info.num_ack_pending


@pytest.fixture
def settings(settings_factory, database_url_factory):
    return settings_factory(
        events_database_url=database_url_factory("events"), today=kit.TODAY.isoformat()
    )


async def test_the_target_change_of_a_transition_overtakes_a_backlog(settings, tokens):
    world = kit.World()
    for _ in range(BACKLOG // 2):  # road projects registered, each with a milestone
        pid = world.project("road", kit.TODAY)
        world.milestone(pid, kit.TODAY)
    backlog = list(world.events)
    # The backlog is in the stream before the service starts, as after a long stop or a replay.
    nc = await natsutil.connect(settings, name="test-backlog")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    await kit.publish(js, settings, backlog)
    notices: dict[str, dict] = {}  # the first notice on each live subject

    async def on_notice(msg) -> None:
        suffix = msg.subject.removeprefix(settings.live_subjects + ".")
        notices.setdefault(suffix, orjson.loads(msg.data))

    await nc.subscribe(f"{settings.live_subjects}.>", cb=on_notice)
    app = create_app(settings)
    try:
        async with running_app(app) as client:
            await asyncio.wait_for(app.state.runtime.nats_ready.wait(), 20)
            while app.state.consumer.applied == 0:  # the backlog is being worked through
                await asyncio.sleep(0.01)
            school = world.project("school", kit.TODAY)
            for stage in ("starting", "building", "built"):
                world.move(school, stage, kit.TODAY)
            transition = world.events[len(backlog) :]
            sent = time.monotonic()
            await kit.publish(js, settings, transition)
            target_subject = "target.schools"
            while target_subject not in notices:
                assert time.monotonic() < sent + 30, f"notices so far: {sorted(notices)}"
                await asyncio.sleep(0.002)
            left = await _backlog_left(js, settings)
            assert left > 0, "the backlog was done before the notice came: nothing overtaken"
            assert notices[target_subject]["payload"]["target"]["current_value"] == 1
            # Stage changes are the projects service's to announce: the roll-up working
            # through old ones fills the live stream with none of them.
            assert not [s for s in notices if s.startswith("project.")]
            assert app.state.lane.applied == len(transition) - 1  # all but the registration

            # The backlog then drains into the exact roll-up, every event counted once.
            await kit.drained(js, settings, timeout=300)
            consumer, lane = app.state.consumer, app.state.lane
            assert consumer.applied + lane.applied == len(world.events)
            assert consumer.duplicates == lane.applied
            r = await client.get("/api/v1/targets", headers=auth(tokens["viewer"]))
            values = {i["id"]: i["current_value"] for i in r.json()["items"]}
            for target in COUNTED:
                assert values[target.id] == pytest.approx(
                    kit.truth(target, world.events, kit.TODAY)
                ), target.id
    finally:
        await nc.close()
