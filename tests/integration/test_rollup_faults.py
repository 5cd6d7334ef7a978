"""Exact under faults: a roll-up process SIGKILLed mid-stream and a NATS restart leave every
target equal to the ground truth computed from the published snapshots."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from services.common import db
from services.common import nats as natsutil
from services.common.natsserver import free_port
from services.common.settings import Settings
from services.events.consumer import ROLLUP_CONSUMER
from services.events.models import inbox
from tests.conftest import TEST_SECRET, auth
from tests.integration import rollup_kit as kit
from tests.integration.test_rollup_truth import DATES, TODAY, expected_on

ROOT = Path(__file__).resolve().parents[2]


def serve(settings: Settings, port: int) -> subprocess.Popen:
    """The events service in its own process, configured through PLANTRACK_* as deployed."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PLANTRACK_ENV": "test",
        "PLANTRACK_DATA_DIR": str(settings.data_dir),
        "PLANTRACK_NATS_URL": settings.nats_url,
        "PLANTRACK_SECRET": TEST_SECRET,
        "PLANTRACK_SUBJECT_PREFIX": settings.subject_prefix,
        "PLANTRACK_STREAM": settings.stream,
        "PLANTRACK_LIVE_STREAM": settings.live_stream,
        "PLANTRACK_EVENTS_DATABASE_URL": settings.events_database_url or "",
        "PLANTRACK_TODAY": TODAY.isoformat(),
        "PLANTRACK_CONSUMER_BATCH": str(settings.consumer_batch),
        "PLANTRACK_CONSUMER_ACK_WAIT_SECONDS": str(settings.consumer_ack_wait_seconds),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.events.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


def applied(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(inbox)).scalar_one()


async def wait_until(predicate, timeout: float = 60.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(every)
    raise AssertionError("condition not reached in time")


async def values_over_http(base: str, token: str) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        out = {}
        for at in DATES:
            r = await client.get(
                "/api/v1/targets", params={"as_of": at.isoformat()}, headers=auth(token)
            )
            assert r.status_code == 200, r.text
            out[at] = {
                t["id"]: t["current_value"] for t in r.json()["items"] if t["source"] != "reported"
            }
        return out


async def test_sigkill_mid_stream_and_a_nats_restart_leave_the_targets_exact(
    own_nats, settings_factory, database_url_factory, tokens
):
    settings = settings_factory(
        nats_url=own_nats.url,
        events_database_url=database_url_factory("events"),
        consumer_batch=20,
        consumer_ack_wait_seconds=2,
    )
    engine = db.make_engine(settings.events_database_url)
    world = kit.random_world(21, projects=400, enterprises=300, today=TODAY)
    events = kit.shuffled(world.events, seed=4)
    half = len(events) // 2
    nc = await natsutil.connect(settings, name="test-publisher")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    await kit.publish(js, settings, events[:half])

    victim = serve(settings, free_port())
    try:
        await wait_until(lambda: applied_or_zero(engine) == half, timeout=60)
        # Hold the roll-up's lock, then give it the rest: it fetches a batch and waits inside
        # its transaction, where the kill lands.
        with blocking_rollups(engine):
            await kit.publish(js, settings, events[half:])
            await kit.publish(js, settings, events[::4], msg_id=kit.fresh_id)  # redeliveries
            await wait_until(lambda: ack_pending(settings) > 0, timeout=30, every=0.1)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
    finally:
        victim.kill()
        await nc.close()
    partial = applied(engine)
    assert partial == half, "killed inside a batch: none of it committed"

    port = free_port()
    survivor = serve(settings, port)
    try:
        await wait_until(lambda: applied(engine) > partial, timeout=60)
        own_nats.stop()  # the broker goes away mid-stream …
        await asyncio.sleep(0.5)
        own_nats.start()  # … and comes back with its stream and durable consumer
        nc = await natsutil.connect(settings, name="test-watcher")
        await kit.drained(nc.jetstream(), settings, timeout=90)
        await nc.close()
        assert applied(engine) == len(events), "every event once in the inbox"
        found = await values_over_http(f"http://127.0.0.1:{port}", tokens["viewer"])
        for at in DATES:
            assert found[at] == pytest.approx(expected_on(world.events, at)), at
    finally:
        survivor.terminate()
        survivor.wait(15)
        engine.dispose()


@contextmanager
def blocking_rollups(engine) -> Iterator[None]:
    """Hold what every roll-up batch needs: SQLite's write lock, or on PostgreSQL the roll-up
    state row that each batch takes FOR SHARE after writing its inbox rows."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT 1 FROM rollup_state WHERE id = 1 FOR UPDATE"))
        else:  # the engine begins with BEGIN IMMEDIATE: the write lock is ours until rollback
            conn.execute(text("SELECT 1"))
        try:
            yield
        finally:
            conn.rollback()


def ack_pending(settings: Settings) -> int:
    """Messages the durable has handed out and not had acked."""

    async def ask() -> int:
        nc = await natsutil.connect(settings, name="test-watcher")
        try:
            info = await nc.jetstream().consumer_info(settings.stream, ROLLUP_CONSUMER)
            return info.num_ack_pending
        finally:
            await nc.close()

    return asyncio.run(ask())


def applied_or_zero(engine) -> int:
    """The inbox count, or 0 while the service has not created its tables yet."""
    try:
        return applied(engine)
    except Exception:
        return 0
