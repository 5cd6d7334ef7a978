"""Transactional outbox: events are written with their change, then relayed to JetStream."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from services.common import db
from services.common.envelope import Event, utcnow
from services.common.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger("plantrack.outbox")


Announce = Callable[[str, bytes], tuple[str, bytes, str] | None]
"""An outbox row's (type, data) → the live notice the relay publishes once JetStream has the
row: (subject suffix under the live prefix, notice, de-duplication id), or None."""


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table, declared on a service's own metadata."""
    return Table(
        "outbox",
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("type", String(100), nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unpublished",
            "seq",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )


def outbox_rows(events: Iterable[Event], now: datetime | None = None) -> list[dict[str, Any]]:
    """The outbox rows of `events`, for `record` or a bulk insert of many."""
    now = now or utcnow()
    return [
        {
            "event_id": str(event.id),
            "subject": event.subject_suffix,
            "type": event.type,
            "data": event.to_bytes(),
            "created_at": now,
        }
        for event in events
    ]


def record(session: Session, table: Table, *events: Event) -> int:
    """Add the events to the caller's transaction (one executemany for many); they are relayed
    only if that transaction commits. Returns how many."""
    rows = outbox_rows(events)
    if rows:
        session.execute(table.insert(), rows)
    return len(rows)


class Relay:
    """Publishes committed outbox rows to JetStream, de-duplicated by `Nats-Msg-Id` = event id.

    On PostgreSQL the claimed rows stay locked (`FOR UPDATE SKIP LOCKED`) until they are marked,
    so several relays share the work without publishing a row twice; on SQLite one relay runs.
    A row is marked only after JetStream acknowledged it, so nothing is lost: a crash between the
    two re-publishes, and the stream's duplicate window (then the consumers' inbox) drops it.

    With `announce`, the rows it names are then announced on the live stream, without waiting
    for those acks (a lost notice costs a dashboard one refresh).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        table: Table,
        js: JetStreamContext,
        service: str,
        subject_prefix: str = "plantrack.domain",
        batch: int = 500,
        interval: float = 0.05,
        ack_timeout: float = 5.0,
        announce: Announce | None = None,
        nc: Client | None = None,
        live_prefix: str = "plantrack.live",
    ) -> None:
        self.engine = engine
        self.table = table
        self.js = js
        self.service = service
        self.subject_prefix = subject_prefix
        self.batch = batch
        self.interval = interval
        self.ack_timeout = ack_timeout
        self.announce = announce
        self.nc = nc
        self.live_prefix = live_prefix
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                n = await self.relay_once()
                backoff = 0.1
            except Exception as exc:  # NATS away, database away: retry with backoff
                log.warning("%s outbox relay: %s; retrying in %.1fs", self.service, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if n < self.batch:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval * 10)
                except TimeoutError:
                    pass

    async def relay_once(self) -> int:
        """Claim a batch, publish it, await every ack, mark it; returns how many were relayed."""
        if self.engine.dialect.name == "sqlite":
            return await self._relay_once_single()
        conn = await asyncio.to_thread(self.engine.connect)
        try:
            tx = await asyncio.to_thread(conn.begin)
            rows = await asyncio.to_thread(self._claim, conn)
            if not rows:
                await asyncio.to_thread(tx.rollback)
                OUTBOX_PENDING.labels(self.service).set(0)
                return 0
            await self._publish(rows)
            await self._announce(rows)
            await asyncio.to_thread(self._mark, conn, [r.seq for r in rows])
            await asyncio.to_thread(tx.commit)
        finally:
            await asyncio.to_thread(conn.close)
        self.published += len(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _relay_once_single(self) -> int:
        # SQLite has one writer at a time: never hold its lock while waiting on the broker.
        rows = await asyncio.to_thread(self._read_batch)
        if not rows:
            OUTBOX_PENDING.labels(self.service).set(0)
            return 0
        await self._publish(rows)
        await self._announce(rows)
        await asyncio.to_thread(self._mark_committed, [r.seq for r in rows])
        self.published += len(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    def _read_batch(self) -> list[Any]:
        with db.reader(self.engine).connect() as conn:
            return self._claim(conn)

    def _mark_committed(self, seqs: list[int]) -> None:
        with self.engine.begin() as conn:
            self._mark(conn, seqs)

    def _claim(self, conn: Any) -> list[Any]:
        t = self.table
        stmt = (
            select(t.c.seq, t.c.event_id, t.c.subject, t.c.type, t.c.data)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.seq)
            .limit(self.batch)
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(conn.execute(stmt))

    def _mark(self, conn: Any, seqs: list[int]) -> None:
        conn.execute(
            update(self.table).where(self.table.c.seq.in_(seqs)).values(published_at=utcnow())
        )

    async def _publish(self, rows: list[Any]) -> None:
        futures = []
        try:
            for r in rows:
                # wait_stall=None: a timed wait here would cost a task per message
                fut = await self.js.publish_async(
                    f"{self.subject_prefix}.{r.subject}",
                    r.data,
                    headers={"Nats-Msg-Id": r.event_id},
                )
                futures.append(fut)
            deadline = time.monotonic() + self.ack_timeout
            for fut in futures:
                await asyncio.wait_for(fut, timeout=max(0.01, deadline - time.monotonic()))
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise

    async def _announce(self, rows: list[Any]) -> None:
        if self.announce is None or self.nc is None:
            return
        try:
            for r in rows:
                notice = self.announce(r.type, r.data)
                if notice is not None:
                    suffix, data, msg_id = notice
                    await self.nc.publish(
                        f"{self.live_prefix}.{suffix}", data, headers={"Nats-Msg-Id": msg_id}
                    )
        except Exception as exc:  # the domain events are relayed; only a dashboard's cue is lost
            log.warning("%s: live notices not all published: %s", self.service, exc)
