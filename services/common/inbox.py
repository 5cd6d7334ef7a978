"""Consumer inbox: an event's id is stored in the same transaction as its effect, so none counts twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, select
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


def apply_once(conn: Connection, inbox: Table, events: list[Event], apply: Apply) -> list[Event]:
    """Apply the events not seen before, recording them in the inbox; returns those applied."""
    unique: dict[str, Event] = {}
    for ev in events:
        unique.setdefault(str(ev.id), ev)
    if not unique:
        return []
    seen = set(
        conn.execute(select(inbox.c.event_id).where(inbox.c.event_id.in_(list(unique)))).scalars()
    )
    fresh = [ev for key, ev in unique.items() if key not in seen]
    if fresh:
        now = utcnow()
        conn.execute(inbox.insert(), [{"event_id": str(ev.id), "processed_at": now} for ev in fresh])
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
        while not self._stopping:
            try:
                if sub is None:
                    sub = await self.js.pull_subscribe(
                        self.config.filter_subject or ">",
                        durable=self.config.durable_name,
                        stream=self.stream,
                        config=self.config,
                    )
                msgs = await sub.fetch(self.batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:
                log.warning("%s: fetch failed: %s; retrying in %.1fs", self.name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            await self.handle(msgs)

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
            log.warning("%s: batch of %d not applied (%s); will be redelivered", self.name, len(events), exc)
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
                log.info("%s: ack failed (%s); the inbox will absorb the redelivery", self.name, exc)
        if fresh and self.after_commit is not None:
            try:
                result = self.after_commit(fresh)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("%s: after-commit hook failed", self.name)
