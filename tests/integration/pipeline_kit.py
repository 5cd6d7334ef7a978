"""A minimal producer and consumer on the shared kernel, to prove outbox → JetStream → inbox."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from datetime import date

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.common import db
from services.common import nats as natsutil
from services.common.envelope import Event, Received
from services.common.inbox import Consumer, inbox_table
from services.common.outbox import Relay, outbox_table, record
from services.common.settings import Settings
from services.events.consumer import rollup_consumer_config

producer_md = MetaData()
things = Table(
    "things", producer_md, Column("id", Integer, primary_key=True), Column("name", String(50))
)
outbox = outbox_table(producer_md)

consumer_md = MetaData()
inbox = inbox_table(consumer_md)
tally = Table(
    "tally",
    consumer_md,
    Column("thing_id", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
)


def make_producer(url: str) -> Engine:
    engine = db.make_engine(url)
    producer_md.create_all(engine)
    return engine


def make_consumer(url: str) -> Engine:
    engine = db.make_engine(url)
    consumer_md.create_all(engine)
    return engine


def write_thing(engine: Engine, thing_id: int, *, fail: bool = False) -> None:
    """One business change and its event in one transaction (optionally rolled back)."""
    with Session(engine) as session, session.begin():
        session.execute(things.insert().values(id=thing_id, name=f"thing {thing_id}"))
        record(
            session,
            outbox,
            Event(
                type="ThingMade",
                subject=str(thing_id),
                on=date.today(),
                producer="kit",
                payload={"id": thing_id},
            ),
        )
        if fail:
            raise RuntimeError("rolled back on purpose")


def count_event(conn: Connection, events: list[Received]) -> None:
    """The effect: +1 per event, so a double count shows as n = 2 (one statement per batch)."""
    slow = float(os.environ.get("KIT_APPLY_SECONDS", "0"))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(tally).on_conflict_do_update(
        index_elements=["thing_id"], set_={"n": tally.c.n + 1}
    )
    conn.execute(stmt, [{"thing_id": int(ev.payload["id"]), "n": 1} for ev in events])
    if slow:
        time.sleep(slow)


def tallies(engine: Engine) -> dict[int, int]:
    with db.reader(engine).connect() as conn:
        return {r.thing_id: r.n for r in conn.execute(select(tally))}


def unpublished(engine: Engine) -> int:
    with db.reader(engine).connect() as conn:
        return conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()


class CrashingRelay(Relay):
    """Dies (SIGKILL) after JetStream acknowledged the batch and before marking it published."""

    def _mark(self, conn, seqs):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGKILL)


async def run_relay(
    settings: Settings, url: str, *, crash: bool, seconds: float, batch: int
) -> None:
    nc = await natsutil.connect(settings, name="kit-relay")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    cls = CrashingRelay if crash else Relay
    relay = cls(
        engine=db.make_engine(url),
        table=outbox,
        js=js,
        service="kit",
        subject_prefix=settings.domain_subjects,
        batch=batch,
    )
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(seconds)
    relay.stop()
    await task
    await nc.close()


async def run_consumer(settings: Settings, url: str, *, seconds: float, batch: int) -> None:
    nc = await natsutil.connect(settings, name="kit-consumer")
    js = nc.jetstream()
    await natsutil.provision(js, settings)
    consumer = Consumer(
        nc=nc,
        js=js,
        engine=make_consumer(url),
        inbox=inbox,
        apply=count_event,
        stream=settings.stream,
        config=rollup_consumer_config(settings),
        batch=batch,
        name="kit",
    )
    task = asyncio.create_task(consumer.run())
    await asyncio.sleep(seconds)
    consumer.stop()
    await task
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "consumer"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--live", required=True)
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--batch", type=int, default=50)
    a = parser.parse_args()
    settings = Settings(
        env="test",
        nats_url=a.nats,
        subject_prefix=a.prefix,
        stream=a.stream,
        live_stream=a.live,
        live_stream_max_bytes=8 * 1024 * 1024,  # as the tests' settings (tests/conftest.py)
        consumer_ack_wait_seconds=3,  # a killed consumer's batch comes back quickly
        secret="x" * 40,
    )
    if a.role == "relay":
        asyncio.run(run_relay(settings, a.url, crash=a.crash, seconds=a.seconds, batch=a.batch))
    else:
        asyncio.run(run_consumer(settings, a.url, seconds=a.seconds, batch=a.batch))


if __name__ == "__main__":
    sys.exit(main())
