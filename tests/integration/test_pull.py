"""BatchPuller on a real nats-server: batches, prompt lone messages, broker restarts, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.msg import Msg

from services.common import nats as natsutil
from services.common.natsserver import NatsServer
from services.common.pull import BatchPuller, PullError, ensure_consumer
from services.common.settings import Settings
from services.events.consumer import rollup_consumer_config

DURABLE = "pull-test"


async def _setup(
    settings: Settings, batch: int, expires: float = 0.5
) -> tuple[Any, Any, BatchPuller]:
    nc = await natsutil.connect(settings, name="pull-test")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    config = rollup_consumer_config(settings, DURABLE)
    await ensure_consumer(js, settings.stream, config)
    puller = await BatchPuller(
        nc, stream=settings.stream, durable=DURABLE, batch=batch, expires=expires
    ).start()
    return nc, js, puller


@pytest.fixture
async def pulling(settings_factory) -> AsyncIterator[tuple[Settings, Any, Any, BatchPuller]]:
    settings = settings_factory()
    nc, js, puller = await _setup(settings, batch=128)
    yield settings, nc, js, puller
    await puller.close()
    await nc.close()


async def _publish(js: Any, settings: Settings, count: int, start: int = 0) -> None:
    acks = [
        await js.publish_async(f"{settings.domain_subjects}.test.Thing", str(start + i).encode())
        for i in range(count)
    ]
    await asyncio.gather(*acks)


def _sequence(msg: Msg) -> int:
    return msg.metadata.sequence.stream


async def test_a_backlog_comes_in_batches_each_message_once(pulling) -> None:
    settings, _nc, js, puller = pulling
    await _publish(js, settings, 1_000)
    seen: list[int] = []
    sizes: list[int] = []
    while len(seen) < 1_000:
        msgs = await puller.fetch(timeout=5)
        sizes.append(len(msgs))
        seen += [_sequence(m) for m in msgs]
        for m in msgs:
            await m.ack()
    assert sorted(seen) == list(range(1, 1_001))
    assert max(sizes) == 128  # batched, never more than one batch at a time
    with pytest.raises(TimeoutError):  # all acked: nothing comes again
        await puller.fetch(timeout=0.5)


async def test_a_smaller_batch_when_asked_each_message_still_once(pulling) -> None:
    """While people are at work the consumer asks for a smaller batch at a time."""
    settings, _nc, js, puller = pulling
    await _publish(js, settings, 500)
    seen: list[int] = []
    sizes: list[int] = []
    while len(seen) < 500:
        msgs = await puller.fetch(timeout=5, limit=32)
        sizes.append(len(msgs))
        seen += [_sequence(m) for m in msgs]
        for m in msgs:
            await m.ack()
    assert sorted(seen) == list(range(1, 501))
    assert max(sizes) == 32


async def test_a_lone_message_is_not_held_back_for_a_full_batch(settings_factory) -> None:
    settings = settings_factory()
    nc, js, puller = await _setup(settings, batch=128, expires=10)
    try:
        fetching = asyncio.create_task(puller.fetch(timeout=20))
        await asyncio.sleep(0.2)  # the puller's request for 256 is lingering on the server
        started = time.monotonic()
        await _publish(js, settings, 1)
        msgs = await fetching
        assert [m.data for m in msgs] == [b"0"]
        # Handed out on arrival, not when the request would have expired.
        assert time.monotonic() - started < 5
    finally:
        await puller.close()
        await nc.close()


async def test_replicas_of_a_quiet_consumer_take_turns(settings_factory) -> None:
    settings = settings_factory()
    nc, js, first = await _setup(settings, batch=256)
    other = await BatchPuller(nc, stream=settings.stream, durable=DURABLE, batch=256).start()
    got = {"first": 0, "other": 0}

    async def consume(name: str, puller: BatchPuller) -> None:
        while True:
            try:
                msgs = await puller.fetch(timeout=1)
            except TimeoutError:
                continue
            got[name] += len(msgs)
            for m in msgs:
                await m.ack()

    tasks = [
        asyncio.create_task(consume("first", first)),
        asyncio.create_task(consume("other", other)),
    ]
    try:
        for i in range(300):  # ~100 a second: no request ever fills
            await _publish(js, settings, 1, start=i)
            await asyncio.sleep(0.01)
        deadline = time.monotonic() + 10
        while sum(got.values()) < 300 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert sum(got.values()) == 300
        assert min(got.values()) >= 30, got  # neither holds the front of the queue for good
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first.close()
        await other.close()
        await nc.close()


async def test_unacked_messages_come_back_and_acked_ones_do_not(settings_factory) -> None:
    settings = settings_factory(consumer_ack_wait_seconds=1)
    nc, js, puller = await _setup(settings, batch=10)
    try:
        await _publish(js, settings, 10)
        first = await puller.fetch(timeout=5)
        for m in first[:4]:
            await m.ack()
        again: list[Msg] = []
        while len(again) < 6:  # redelivered after the ack wait
            again += await puller.fetch(timeout=10)
        assert sorted(m.data for m in again) == sorted(m.data for m in first[4:])
        assert all(m.metadata.num_delivered == 2 for m in again)
    finally:
        await puller.close()
        await nc.close()


async def test_pulling_resumes_after_the_broker_restarts(tmp_path, own_nats: NatsServer) -> None:
    settings = Settings(env="test", nats_url=own_nats.url, secret="s" * 40, data_dir=tmp_path)
    nc, js, puller = await _setup(settings, batch=50)
    try:
        await _publish(js, settings, 20)
        msgs = await puller.fetch(timeout=5)
        for m in msgs:
            await m.ack()
        own_nats.stop()
        own_nats.start()
        for i in range(20, 40):  # each retried until the restarted broker stores it
            for _ in range(100):
                try:
                    await js.publish(
                        f"{settings.domain_subjects}.test.Thing",
                        str(i).encode(),
                        timeout=1,
                        headers={"Nats-Msg-Id": f"m{i}"},  # a retried publish is stored once
                    )
                    break
                except Exception:
                    await asyncio.sleep(0.2)
        got: list[bytes] = []
        while len(got) < 20:  # requests lost with the old connection are written off
            try:
                batch = await puller.fetch(timeout=10)
            except PullError:  # "409 Server Shutdown" ended the old requests: ask again
                continue
            got += [m.data for m in batch]
            for m in batch:
                await m.ack()
        assert sorted(got) == sorted(str(i).encode() for i in range(20, 40))
    finally:
        await puller.close()
        await nc.close()


async def test_a_deleted_consumer_is_an_error_not_a_silent_stall(pulling) -> None:
    settings, _nc, js, puller = pulling
    fetching = asyncio.create_task(puller.fetch(timeout=10))
    await asyncio.sleep(0.2)
    await js.delete_consumer(settings.stream, DURABLE)
    with pytest.raises(PullError, match="409"):
        await fetching
