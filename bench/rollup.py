"""Live roll-up speed beside raw nats-py fetch+ack, in the same run on the same stream.

Run:  python bench/rollup.py [--events 100000] [--batch 256] [--pg postgresql://…/test]

A private nats-server gets N events shaped as the services publish them (bench/replay.py's
generator). Then, one after the other, two durable pull consumers read the whole stream with
the same batch size: the raw one only fetches and acks; the live one is the events service's
roll-up consumer (inbox, facts upserted into every writable generation in one transaction, acks
after commit, stage notices to the live stream, touched targets recomputed by the progress
tracker). The raw rate is from its first fetch to its last ack; the live rate from the first
event applied to the last. Goal: live ≥ 0.8 × raw.

Both run in this one process, raw first: the live consumer runs as the events service runs it
(its pulls, its worker thread, the service's GC setting), the raw one as nats-py's `fetch` does.
The machine's other load moves both figures by ±15 % from run to run; run it a few times.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from nats.js.api import AckPolicy, ConsumerConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import replay as replay_bench  # noqa: E402

from services.common import db  # noqa: E402
from services.common import nats as natsutil  # noqa: E402
from services.common.natsserver import NatsServer  # noqa: E402
from services.common.settings import Settings  # noqa: E402


async def raw(settings: Settings, total: int, batch: int) -> float:
    """Plain nats-py: fetch a batch, ack each message; events/s."""
    nc = await natsutil.connect(settings, name="bench-raw")
    js = nc.jetstream()
    config = ConsumerConfig(
        durable_name="raw", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000
    )
    sub = await js.pull_subscribe(
        f"{settings.domain_subjects}.>", durable="raw", stream=settings.stream, config=config
    )
    done, started = 0, None
    while done < total:
        msgs = await sub.fetch(batch, timeout=5)
        started = started or time.perf_counter()
        for msg in msgs:
            await msg.ack()
        done += len(msgs)
    await nc.flush()
    rate = total / (time.perf_counter() - started)
    await nc.close()
    return rate


async def live(settings: Settings, url: str, total: int) -> float:
    """The events service's roll-up consumer, as app.py wires it; events/s."""
    from services.common.runtime import tune_gc
    from services.events import progress
    from services.events.app import MIGRATIONS, reading_engine
    from services.events.consumer import LiveNotifier, ProgressTracker, rollup_consumer
    from services.events.targets import load_catalogue

    engine = db.make_engine(url)
    db.migrate(engine, MIGRATIONS)
    tune_gc()  # as the service's startup does
    nc = await natsutil.connect(settings, name="bench-live")
    js = nc.jetstream()
    targets = load_catalogue()
    notifier = LiveNotifier(nc, js, settings)
    reads = reading_engine(engine)
    tracker = ProgressTracker(
        engine=reads,
        targets=targets,
        assess=progress.assess_all,
        today=lambda: date(2025, 6, 30),
        notifier=notifier,
    )
    await tracker.refresh()
    consumer = rollup_consumer(
        nc=nc,
        js=js,
        engine=engine,
        settings=settings,
        targets=targets,
        tracker=tracker,
    )
    tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(tracker.run())]
    while consumer.applied == 0:
        await asyncio.sleep(0.001)
    started = time.perf_counter()
    while consumer.applied + consumer.duplicates < total:
        await asyncio.sleep(0.005)
    rate = total / (time.perf_counter() - started)
    consumer.stop()
    tracker.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await nc.close()
    reads.dispose()
    engine.dispose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=Settings().consumer_batch)
    parser.add_argument("--pg", help="PostgreSQL URL (a fresh schema is used); default SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(store_dir=Path(tmp) / "nats").start()
        url, drop = replay_bench._database(args.pg, Path(tmp))
        settings = replay_bench.bench_settings(server.url, consumer_batch=args.batch)
        try:
            asyncio.run(replay_bench.publish(settings, args.events))
            raw_rate = asyncio.run(raw(settings, args.events, args.batch))
            live_rate = asyncio.run(live(settings, url, args.events))
        finally:
            server.kill()
            drop()
    kind = "PostgreSQL" if args.pg else "SQLite"
    print(f"{args.events:,} events, batch {args.batch}, {kind}")
    print(f"  raw nats-py fetch+ack  {raw_rate:>9,.0f} events/s")
    print(
        f"  live roll-up           {live_rate:>9,.0f} events/s  "
        f"= {live_rate / raw_rate:.2f} × raw (goal ≥ 0.8)"
    )


if __name__ == "__main__":
    main()
