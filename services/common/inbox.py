"""Consumer inbox: an event id is stored in the transaction of its effect, so none counts twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from services.common.envelope import Event, utcnow
from services.common.metrics import EVENTS_CONSUMED, EVENTS_DUPLICATE

log = logging.getLogger("plantrack.inbox")

Apply = Callable[[Connection, list[Event]], None]


def inbox_table(metadata: MetaData, name: str = "inbox") -> Table:
    return Table(
        name,
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def claim_fresh(conn: Connection, inbox: Table, ids: list[str]) -> set[str]:
    """Insert the ids into the inbox, returning those that were not there: one round trip."""
    now = utcnow()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                f"INSERT INTO {inbox.name} (event_id, processed_at) "
                "SELECT unnest(CAST(:ids AS varchar[])), :now "
                "ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            {"ids": ids, "now": now},
        )
        return set(rows.scalars())
    fresh: set[str] = set()
    for start in range(0, len(ids), 400):  # SQLite caps the variables per statement
        chunk = ids[start : start + 400]
        stmt = (
            sqlite.insert(inbox)
            .values([{"event_id": i, "processed_at": now} for i in chunk])
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        fresh.update(conn.execute(stmt).scalars())
    return fresh


def apply_once(conn: Connection, inbox: Table, events: list[Event], apply: Apply) -> list[Event]:
    """Apply the events not seen before, recording them in the inbox; returns those applied."""
    unique: dict[str, Event] = {}
    for ev in events:
        unique.setdefault(str(ev.id), ev)
    if not unique:
        return []
    fresh_ids = claim_fresh(conn, inbox, list(unique))
    fresh = [ev for key, ev in unique.items() if key in fresh_ids]
    if fresh:
        apply(conn, fresh)
    return fresh


class Consumer:
    """A batched pull consumer on a durable: fetch, apply in one transaction, ack after commit.

    Several processes may run the same durable as competing consumers; a redelivered or
    duplicated message meets its id in the inbox and is acked without effect.
    """

    def __init__(
        self,
        *,
        js: JetStreamContext,
        engine: Engine,
        inbox: Table,
        apply: Apply,
        stream: str,
        config: ConsumerConfig,
        batch: int = 256,
        name: str = "consumer",
        after_commit: Callable[[list[Event]], Any] | None = None,
    ) -> None:
        self.js = js
        self.engine = engine
        self.inbox = inbox
        self.apply = apply
        self.stream = stream
        self.config = config
        self.batch = batch
        self.name = name
        self.after_commit = after_commit
        self._stopping = False
        self.applied = 0
        self.duplicates = 0

    def stop(self) -> None:
        self._stopping = True

    def process(self, events: list[Event]) -> list[Event]:
        with self.engine.begin() as conn:
            return apply_once(conn, self.inbox, events, self.apply)

    async def run(self) -> None:
        sub = None
        backoff = 0.2
        prefetch: asyncio.Future[list[Msg]] | None = None
        try:
            while not self._stopping:
                try:
                    if sub is None:
                        sub = await self.js.pull_subscribe(
                            self.config.filter_subject or ">",
                            durable=self.config.durable_name,
                            stream=self.stream,
                            config=self.config,
                        )
                    msgs = await (prefetch or sub.fetch(self.batch, timeout=1.0))
                except (TimeoutError, nats.errors.TimeoutError):
                    prefetch = None
                    continue
                except Exception as exc:
                    prefetch = None
                    log.warning("%s: fetch failed: %s; retrying in %.1fs", self.name, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.2
                # Fetch the next batch while this one is applied: the broker and the database
                # work at the same time. Acks still follow each batch's own commit.
                prefetch = asyncio.ensure_future(sub.fetch(self.batch, timeout=1.0))
                await self.handle(msgs)
        finally:
            if sub is not None:
                try:
                    await sub.unsubscribe()
                except Exception:
                    pass
            if prefetch is not None:
                prefetch.cancel()
                try:
                    for msg in await prefetch:
                        await msg.nak()
                except BaseException:
                    pass

    async def handle(self, msgs: list[Msg]) -> None:
        events: list[Event] = []
        keep: list[Msg] = []
        for msg in msgs:
            try:
                events.append(Event.from_bytes(msg.data))
                keep.append(msg)
            except Exception as exc:  # not an event of ours: never retry it
                log.error("%s: dropping undecodable message on %s: %s", self.name, msg.subject, exc)
                await msg.term()
        try:
            fresh = await asyncio.to_thread(self.process, events)
        except Exception as exc:
            log.warning(
                "%s: batch of %d not applied (%s); will be redelivered", self.name, len(events), exc
            )
            for msg in keep:
                try:
                    await msg.nak(delay=1)
                except Exception:
                    pass
            await asyncio.sleep(0.5)
            return
        self.applied += len(fresh)
        self.duplicates += len(events) - len(fresh)
        EVENTS_CONSUMED.labels(self.name).inc(len(fresh))
        EVENTS_DUPLICATE.labels(self.name).inc(len(events) - len(fresh))
        for msg in keep:
            try:
                await msg.ack()
            except Exception as exc:  # redelivered later; the inbox will skip it
                log.info(
                    "%s: ack failed (%s); the inbox will absorb the redelivery", self.name, exc
                )
        if fresh and self.after_commit is not None:
            try:
                result = self.after_commit(fresh)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("%s: after-commit hook failed", self.name)
