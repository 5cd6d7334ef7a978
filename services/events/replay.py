"""Replay: rebuild every roll-up from the domain stream into a fresh generation, then switch."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from services.common.envelope import utcnow
from services.common.errors import Conflict, DomainError
from services.common.settings import Settings
from services.events.labels import MESSAGES
from services.events.models import FACT_TABLES
from services.events.rollup import STATE, Facts, write

log = logging.getLogger("plantrack.events.replay")

STALE_AFTER = timedelta(seconds=120)
"""A replay whose heartbeat is older than this is taken to have died; another may take over."""
FLUSH_ENTITIES = 50_000
"""Entities held in memory before they are written; bounds memory whatever the stream's size."""
MAX_PENDING = 20_000
"""Messages the server may have in flight to us; bounds the client's buffer."""
ACK_EVERY = 2_000
STALL_SECONDS = 60.0
RETRYABLE = {"40P01", "40001"}  # deadlock, serialization failure


class ReplayBusy(Conflict):
    """Another replay is building a generation right now."""


class ReplayUnavailable(DomainError):
    status = 503
    title = "Replay unavailable"


def _aware(stamp: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    if stamp is not None and stamp.tzinfo is None:
        return stamp.replace(tzinfo=UTC)
    return stamp


# --- the generation switch, in the database ------------------------------------------------


def begin(engine: Engine) -> tuple[int, int]:
    """Claim the next generation for a replay; returns (active, building)."""
    with engine.begin() as conn:
        stmt = select(STATE).where(STATE.c.id == 1)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            conn.execute(insert(STATE).values(id=1, active=1))
            row = conn.execute(stmt).one()
        now = utcnow()
        beat = _aware(row.replay_heartbeat_at)
        if row.building is not None and beat is not None and now - beat < STALE_AFTER:
            raise ReplayBusy(
                MESSAGES("replay.busy", generation=row.building, started=row.replay_started_at)
            )
        building = max(row.active, row.building or 0) + 1
        for table in FACT_TABLES:  # whatever a dead replay left behind
            stale = [g for g in (row.building, building) if g is not None]
            conn.execute(delete(table).where(table.c.generation.in_(stale)))
        conn.execute(
            update(STATE)
            .where(STATE.c.id == 1)
            .values(building=building, replay_started_at=now, replay_heartbeat_at=now)
        )
        return row.active, building


def flush(engine: Engine, facts: Facts, building: int) -> None:
    """Write a chunk of the replay's facts and beat the heart; retried on a deadlock."""
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                write(conn, facts, (building,))
                conn.execute(
                    update(STATE)
                    .where(STATE.c.id == 1, STATE.c.building == building)
                    .values(replay_heartbeat_at=utcnow())
                )
            return
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in RETRYABLE or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def switch(engine: Engine, building: int) -> int:
    """Make `building` the active generation in one transaction; returns the one it replaces."""
    with engine.begin() as conn:
        stmt = select(STATE).where(STATE.c.id == 1)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()  # waits for live batches still writing the old one
        row = conn.execute(stmt).one()
        if row.building != building:
            raise ReplayBusy(MESSAGES("replay.taken_over", generation=building))
        conn.execute(
            update(STATE)
            .where(STATE.c.id == 1)
            .values(active=building, building=None, switched_at=utcnow())
        )
        return int(row.active)


def drop(engine: Engine, generation: int) -> None:
    """Delete a generation's facts (after a switch, or of an abandoned replay)."""
    for table in FACT_TABLES:
        with engine.begin() as conn:
            conn.execute(delete(table).where(table.c.generation == generation))


def abandon(engine: Engine, building: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(STATE).where(STATE.c.id == 1, STATE.c.building == building).values(building=None)
        )
    drop(engine, building)


# --- reading the stream -------------------------------------------------------------------


def stream_sequence(msg: Msg) -> int:
    """The message's stream sequence, read straight from its ack subject (hot path)."""
    tokens = msg.reply.split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.… or, with a domain,
    # $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.…
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


@dataclass
class _Reader:
    """Folds stream messages up to `last` into facts; a chunk is written while the next folds."""

    engine: Engine
    building: int
    last: int
    flush_entities: int
    facts: Facts = field(default_factory=Facts)
    events: int = 0
    skipped: int = 0
    seen: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None
    writing: asyncio.Future[None] | None = None

    async def on_message(self, msg: Msg) -> None:
        if self.done.is_set():
            return
        try:
            seq = stream_sequence(msg)
            if seq <= self.last:
                self._fold(msg.data)
                self.events += 1
            self.seen = seq
            if len(self.facts) >= self.flush_entities:
                await self._flush(wait=False)
            if seq >= self.last:
                await self._flush(wait=True)
                self.done.set()
            elif self.events % ACK_EVERY == 0:
                await msg.ack()  # acknowledges everything up to here (AckPolicy.ALL)
        except Exception as exc:
            self.error = exc
            self.done.set()

    def _fold(self, data: bytes) -> None:
        try:
            body = orjson.loads(data)
            self.facts.add(body["type"], body["payload"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.facts.skipped += 1

    async def _flush(self, *, wait: bool) -> None:
        """Hand the facts folded so far to the writer; one chunk in flight bounds memory."""
        if self.writing is not None:
            await self.writing
            self.writing = None
        facts, self.facts = self.facts, Facts()
        self.skipped += facts.skipped
        if len(facts):
            self.writing = asyncio.ensure_future(
                asyncio.to_thread(flush, self.engine, facts, self.building)
            )
            if wait:
                await self.writing
                self.writing = None


async def _read(js: JetStreamContext, settings: Settings, reader: _Reader) -> None:
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.ALL,
        max_ack_pending=MAX_PENDING,
        ack_wait=600,
        inactive_threshold=60,
    )
    sub = await js.subscribe(
        f"{settings.domain_subjects}.>",
        stream=settings.stream,
        cb=reader.on_message,
        manual_ack=True,
        config=config,
        pending_msgs_limit=2 * MAX_PENDING,
        pending_bytes_limit=256 * 1024 * 1024,
    )
    try:
        progress = -1
        while not reader.done.is_set():
            try:
                await asyncio.wait_for(reader.done.wait(), STALL_SECONDS)
            except TimeoutError:
                if reader.seen == progress and not await _rest_was_deleted(js, settings, reader):
                    raise ReplayUnavailable(
                        MESSAGES("replay.stalled", seen=reader.seen, last=reader.last)
                    ) from None
                progress = reader.seen
        if reader.error is not None:
            raise reader.error
    finally:
        try:
            await sub.unsubscribe()
        except Exception:
            pass
        if reader.writing is not None:  # let a chunk in flight land before any clean-up
            await asyncio.gather(reader.writing, return_exceptions=True)


async def _rest_was_deleted(js: JetStreamContext, settings: Settings, reader: _Reader) -> bool:
    """True when the messages still to come were removed by the stream's limits meanwhile."""
    info = await js.stream_info(settings.stream)
    if info.state.first_seq > reader.last:
        await reader._flush(wait=True)
        reader.done.set()
        return True
    return False


async def replay(
    *,
    js: JetStreamContext | None,
    engine: Engine,
    settings: Settings,
    flush_entities: int = FLUSH_ENTITIES,
) -> dict[str, Any]:
    """Rebuild every fact from the stream's first message to its last as of now, then switch.

    Live batches meanwhile go to both generations (see rollup.generations), so events
    published after the replay began are in the new generation too.
    """
    if js is None:
        raise ReplayUnavailable(MESSAGES("replay.no_nats"))
    started = time.perf_counter()
    _, building = await asyncio.to_thread(begin, engine)
    try:
        info = await js.stream_info(settings.stream)
        reader = _Reader(engine, building, info.state.last_seq, flush_entities)
        if info.state.messages and info.state.last_seq:
            await _read(js, settings, reader)
        previous = await asyncio.to_thread(switch, engine, building)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(abandon, engine, building))
        raise
    await asyncio.to_thread(drop, engine, previous)
    seconds = time.perf_counter() - started
    log.info("replayed %d events into generation %d in %.1fs", reader.events, building, seconds)
    return {
        "generation": building,
        "previous_generation": previous,
        "events": reader.events,
        "seconds": round(seconds, 3),
        "events_per_second": round(reader.events / seconds, 1) if seconds else 0.0,
        "last_sequence": reader.last,
        "skipped": reader.skipped,
    }
