"""Outbox → JetStream → inbox on a real nats-server, SQLite and PostgreSQL: none lost or doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from services.common import nats as natsutil
from services.common.inbox import Consumer
from services.common.natsserver import NatsServer
from services.common.outbox import Relay
from services.common.settings import Settings
from services.events.consumer import ROLLUP_CONSUMER, rollup_consumer_config
from tests.integration import pipeline_kit as kit

KIT = [sys.executable, "-m", "tests.integration.pipeline_kit"]
ROOT = Path(__file__).resolve().parents[2]


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


async def write_things(producer, relay, ids: range, *, wake_each: bool = False) -> None:
    """Write things through the producing service's outbox, waking its relay after each write
    or once at the end."""
    for i in ids:
        await asyncio.to_thread(kit.write_thing, producer, i)
        if wake_each:
            relay.wake()
    relay.wake()


@pytest.fixture
def pipeline_parts(settings_factory, database_url_factory):
    """Fresh streams, a producing service's database and a consuming one's."""
    settings = settings_factory()
    producer = kit.make_producer(database_url_factory("producer"))
    consumer_db = kit.make_consumer(database_url_factory("consumer"))
    return settings, producer, consumer_db


async def start_pipeline(
    settings: Settings,
    producer,
    consumer_engine,
    *,
    relay_cls=Relay,
    apply=kit.count_event,
    in_flight: int = 1,
):
    nc = await natsutil.connect(settings, name="test")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    relay = relay_cls(
        engine=producer,
        table=kit.outbox,
        js=js,
        service="kit",
        subject_prefix=settings.domain_subjects,
        interval=0.02,
        ack_timeout=2,
    )
    consumer = Consumer(
        nc=nc,
        js=js,
        engine=consumer_engine,
        inbox=kit.inbox,
        apply=apply,
        stream=settings.stream,
        config=rollup_consumer_config(settings),
        batch=50,
        name="kit",
        in_flight=in_flight,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]

    async def stop() -> None:
        relay.stop()
        consumer.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await nc.close()

    return relay, consumer, stop


async def test_committed_change_is_consumed_exactly_once(pipeline_parts):
    settings, producer, consumer_db = pipeline_parts
    relay, consumer, stop = await start_pipeline(settings, producer, consumer_db)
    try:
        await write_things(producer, relay, range(1, 21), wake_each=True)
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 20)
        await asyncio.sleep(0.5)  # give any duplicate the time to show up
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, 21)}
        assert kit.unpublished(producer) == 0
        with consumer_db.connect() as conn:  # written raw on SQLite, read back by SQLAlchemy
            stamps = conn.execute(select(kit.inbox.c.processed_at)).scalars().all()
        assert len(stamps) == 20 and all(isinstance(t, datetime) for t in stamps)
    finally:
        await stop()


async def test_a_deleted_durable_is_set_up_again_and_nothing_counts_twice(pipeline_parts):
    settings, producer, consumer_db = pipeline_parts
    relay, consumer, stop = await start_pipeline(settings, producer, consumer_db)
    try:
        await write_things(producer, relay, range(1, 11))
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 10)
        await consumer.js.delete_consumer(settings.stream, ROLLUP_CONSUMER)
        await write_things(producer, relay, range(11, 21))
        # The new durable starts from the stream's beginning: 1–10 come again, the inbox
        # absorbs them, 11–20 count once.
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 20)
        await wait_for(lambda: consumer.duplicates >= 10)
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, 21)}
    finally:
        await stop()


async def test_a_batch_whose_transaction_fails_comes_again_and_counts_once(pipeline_parts):
    settings, producer, consumer_db = pipeline_parts
    failures = []

    def flaky(conn, events) -> None:
        kit.count_event(conn, events)  # written, then rolled back with the inbox rows
        if not failures and any(int(e.payload["id"]) == 7 for e in events):
            failures.append(len(events))
            raise RuntimeError("database went away mid-batch")

    relay, consumer, stop = await start_pipeline(
        settings, producer, consumer_db, apply=flaky, in_flight=2
    )
    try:
        await write_things(producer, relay, range(1, 31), wake_each=True)
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 30)
        await asyncio.sleep(0.5)
        assert failures, "the failing batch was never applied"
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, 31)}
    finally:
        await stop()


async def test_rolled_back_write_publishes_nothing(pipeline_parts):
    settings, producer, consumer_db = pipeline_parts
    relay, consumer, stop = await start_pipeline(settings, producer, consumer_db)
    try:
        with pytest.raises(RuntimeError, match="rolled back"):
            await asyncio.to_thread(kit.write_thing, producer, 1, fail=True)
        await asyncio.to_thread(kit.write_thing, producer, 2)
        relay.wake()
        await wait_for(lambda: 2 in kit.tallies(consumer_db))
        await asyncio.sleep(0.5)
        assert kit.tallies(consumer_db) == {2: 1}
        js = consumer.js
        info = await js.stream_info(settings.stream)
        assert info.state.messages == 1
    finally:
        await stop()


async def test_writes_while_nats_is_down_all_arrive_once(tmp_path, database_url_factory):
    server = NatsServer(store_dir=tmp_path / "nats").start()
    settings = Settings(env="test", nats_url=server.url, secret="s" * 40, data_dir=tmp_path)
    producer = kit.make_producer(database_url_factory("producer"))
    consumer_db = kit.make_consumer(database_url_factory("consumer"))
    relay, consumer, stop = await start_pipeline(settings, producer, consumer_db)
    try:
        await write_things(producer, relay, range(1, 11))
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 10)
        server.stop()
        for i in range(11, 211):  # 200 writes with the broker away
            await asyncio.to_thread(kit.write_thing, producer, i)
        await asyncio.sleep(1.0)
        assert kit.unpublished(producer) > 0, "nothing can be relayed while NATS is down"
        server.start()
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 210, timeout=60)
        await asyncio.sleep(0.5)
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, 211)}
        assert kit.unpublished(producer) == 0
    finally:
        await stop()
        server.kill()


def kit_proc(
    role: str, settings: Settings, url: str, *extra: str, seconds: float = 30
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *KIT,
            role,
            "--url",
            url,
            "--nats",
            settings.nats_url,
            "--prefix",
            settings.subject_prefix,
            "--stream",
            settings.stream,
            "--live",
            settings.live_stream,
            "--seconds",
            str(seconds),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_relay_killed_between_publish_and_mark_republishes_and_duplicate_is_dropped(
    settings_factory, database_url_factory
):
    settings = settings_factory()
    producer_url, consumer_url = database_url_factory("producer"), database_url_factory("consumer")
    producer = kit.make_producer(producer_url)
    consumer_db = kit.make_consumer(consumer_url)
    for i in range(1, 51):
        kit.write_thing(producer, i)

    crashing = kit_proc("relay", settings, producer_url, "--crash")
    assert crashing.wait(30) == -signal.SIGKILL, "the relay died between publish and mark"
    assert kit.unpublished(producer) == 50, "nothing was marked: every row will be relayed again"

    relay, consumer, stop = await start_pipeline(settings, producer, consumer_db)
    try:
        await wait_for(lambda: kit.unpublished(producer) == 0)
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 50)
        await asyncio.sleep(0.5)
        info = await consumer.js.stream_info(settings.stream)
        assert info.state.messages == 50, "JetStream dropped the re-published duplicates"
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, 51)}
    finally:
        await stop()


async def test_duplicates_beyond_the_stream_window_are_dropped_by_the_inbox(pipeline_parts):
    settings, producer, consumer_db = pipeline_parts
    for i in range(1, 31):
        kit.write_thing(producer, i)
    relay, consumer, stop = await start_pipeline(settings, producer, consumer_db)
    try:
        await wait_for(lambda: len(kit.tallies(consumer_db)) == 30)
        # Publish every event again under fresh message ids: the stream keeps them, the inbox not.
        with producer.connect() as conn:
            rows = list(conn.execute(kit.outbox.select()))
        for r in rows:
            await consumer.js.publish(
                f"{settings.domain_subjects}.{r.subject}",
                r.data,
                headers={"Nats-Msg-Id": f"again-{r.event_id}"},
            )
        await wait_for(lambda: consumer.duplicates >= 30)
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, 31)}
    finally:
        await stop()


async def test_consumer_sigkilled_mid_batch_counts_every_event_once(
    settings_factory, database_url_factory
):
    settings = settings_factory()
    producer_url, consumer_url = database_url_factory("producer"), database_url_factory("consumer")
    producer = kit.make_producer(producer_url)
    consumer_db = kit.make_consumer(consumer_url)
    n = 400
    for i in range(1, n + 1):
        kit.write_thing(producer, i)
    relay_proc = kit_proc("relay", settings, producer_url, seconds=20)
    try:
        await wait_for(lambda: kit.unpublished(producer) == 0)
        os.environ["KIT_APPLY_SECONDS"] = "0.3"  # each batch holds its transaction open a while
        try:
            victim = kit_proc("consumer", settings, consumer_url, "--batch", "50")
        finally:
            del os.environ["KIT_APPLY_SECONDS"]
        await wait_for(lambda: 0 < len(kit.tallies(consumer_db)) < n)
        await asyncio.sleep(0.15)  # now inside a batch's transaction
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        partial = len(kit.tallies(consumer_db))
        assert 0 < partial < n
        survivor = kit_proc("consumer", settings, consumer_url, "--batch", "50", seconds=60)
        try:
            await wait_for(lambda: len(kit.tallies(consumer_db)) == n, timeout=90)
        finally:
            survivor.terminate()
            survivor.wait(10)
        assert kit.tallies(consumer_db) == {i: 1 for i in range(1, n + 1)}
    finally:
        relay_proc.terminate()
        relay_proc.wait(10)
