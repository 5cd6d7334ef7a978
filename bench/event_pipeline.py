"""Events/s through outbox → NATS JetStream → inbox, beside raw nats-py publish_async and fetch+ack.

Run:  python bench/event_pipeline.py [--events 20000] [--pg postgresql://postgres@127.0.0.1:5432/test]
Both paths run against the same private nats-server, one after the other, with the same batch
sizes and the same process layout: the publishing side in its own process (as the relay runs
inside a producing service), the consuming side in this one. The pipeline starts from N committed
outbox rows and ends when all N are applied in the consumer's database with their inbox rows;
the raw path publishes N messages with publish_async and fetches + acks them. Rates are measured
from the first message received to the last one applied, so process start-up is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a fresh checkout: the tests' kit is not installed

from services.common import db  # noqa: E402
from services.common import nats as natsutil  # noqa: E402
from services.common.envelope import Event, utcnow  # noqa: E402
from services.common.inbox import Consumer  # noqa: E402
from services.common.natsserver import NatsServer  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.events.consumer import rollup_consumer_config  # noqa: E402
from tests.integration import pipeline_kit as kit  # noqa: E402

BATCH = 1000


def seed_outbox(engine, n: int) -> float:
    rows = []
    now = utcnow()
    for i in range(n):
        ev = Event(
            type="ThingMade", subject=str(i), on=date.today(), producer="kit", payload={"id": i}
        )
        rows.append(
            {
                "event_id": str(ev.id),
                "subject": ev.subject_suffix,
                "type": ev.type,
                "data": ev.to_bytes(),
                "created_at": now,
            }
        )
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(kit.outbox.insert(), rows)
    return time.perf_counter() - start


def spawn(*args: str) -> subprocess.Popen:
    root = Path(__file__).resolve().parents[1]
    return subprocess.Popen(
        [sys.executable, *args], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}
    )


async def pipeline(server: NatsServer, url_p: str, url_c: str, n: int) -> float:
    """The relay runs in its own process, as it does inside a producing service."""
    tag = uuid.uuid4().hex[:6]
    settings = Settings(
        env="test",
        nats_url=server.url,
        secret="b" * 40,
        subject_prefix=f"b{tag}",
        stream=f"B{tag}",
        live_stream=f"L{tag}",
    )
    producer, consumer_db = kit.make_producer(url_p), kit.make_consumer(url_c)
    seed_outbox(producer, n)
    nc = await natsutil.connect(settings, name="bench")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    consumer = Consumer(
        nc=nc,
        js=js,
        engine=consumer_db,
        inbox=kit.inbox,
        apply=kit.count_event,
        stream=settings.stream,
        config=rollup_consumer_config(settings),
        batch=BATCH,
        name="bench",
    )
    task = asyncio.create_task(consumer.run())
    relay = spawn(
        "-m",
        "tests.integration.pipeline_kit",
        "relay",
        "--url",
        url_p,
        "--nats",
        server.url,
        "--prefix",
        settings.subject_prefix,
        "--stream",
        settings.stream,
        "--live",
        settings.live_stream,
        "--seconds",
        "600",
        "--batch",
        str(BATCH),
    )
    while consumer.applied == 0:
        await asyncio.sleep(0.001)
    start = time.perf_counter()
    first = consumer.applied
    while consumer.applied < n:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    relay.terminate()
    relay.wait()
    consumer.stop()
    await task
    with consumer_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(kit.inbox)).scalar_one() == n
    await nc.close()
    return elapsed, n - first


async def raw_publisher(url: str, subject: str, n: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=20_000)
    payload = Event(
        type="ThingMade", subject="1", on=date.today(), producer="kit", payload={"id": 1}
    ).to_bytes()
    for i in range(0, n, BATCH):
        futs = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())})
            for _ in range(min(BATCH, n - i))
        ]
        await asyncio.gather(*futs)
    await nc.close()


async def raw(server: NatsServer, n: int) -> float:
    """Raw nats-py: publish_async batches from another process, fetch + ack here."""
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    name = f"RAW{uuid.uuid4().hex[:6]}"
    subject = f"raw{name}.x"
    await js.add_stream(
        StreamConfig(
            name=name, subjects=[f"raw{name}.>"], storage=StorageType.FILE, duplicate_window=120
        )
    )
    sub = await js.pull_subscribe(
        subject,
        durable="raw",
        stream=name,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000),
    )
    publisher = spawn(__file__, "--raw-publish", server.url, subject, str(n))
    got = 0
    start = None
    while got < n:
        try:
            msgs = await sub.fetch(BATCH, timeout=1)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        if start is None:
            start, first = time.perf_counter(), len(msgs)
        for m in msgs:
            await m.ack()
        got += len(msgs)
    elapsed = time.perf_counter() - start
    publisher.wait()
    await nc.close()
    return elapsed, n - first


def pg_urls(base: str) -> tuple[str, str, list[str]]:
    eng = db.make_engine(base)
    schemas = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with eng.begin() as conn:
        for s in schemas:
            conn.execute(text(f'CREATE SCHEMA "{s}"'))
    eng.dispose()
    return (*(f"{base}?options=-csearch_path%3D{s}" for s in schemas), schemas)


def drop_schemas(base: str, schemas: list[str]) -> None:
    eng = db.make_engine(base)
    with eng.begin() as conn:
        for s in schemas:
            conn.execute(text(f'DROP SCHEMA "{s}" CASCADE'))
    eng.dispose()


def rate(result: tuple[float, int]) -> float:
    elapsed, counted = result
    return counted / elapsed


async def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--raw-publish":
        await raw_publisher(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    a = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    server = NatsServer(store_dir=tmp / "nats").start()
    n = a.events
    try:
        raw_rate = rate(await raw(server, n))
        print(f"raw nats-py publish_async + fetch/ack : {raw_rate:10.0f} events/s")
        lite = rate(await pipeline(server, f"sqlite:///{tmp}/p.db", f"sqlite:///{tmp}/c.db", n))
        print(
            f"outbox→NATS→inbox, SQLite             : {lite:10.0f} events/s"
            f"  ratio {lite / raw_rate:.2f}x"
        )
        if a.pg:
            p_url, c_url, schemas = pg_urls(a.pg)
            try:
                pg = rate(await pipeline(server, p_url, c_url, n))
            finally:
                drop_schemas(a.pg, schemas)
            print(
                f"outbox→NATS→inbox, PostgreSQL         : {pg:10.0f} events/s"
                f"  ratio {pg / raw_rate:.2f}x"
            )
        again = rate(await raw(server, n))
        print(f"raw nats-py again (drift check)       : {again:10.0f} events/s")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
