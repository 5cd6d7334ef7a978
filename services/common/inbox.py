"""Consumer inbox: an event id is stored in the transaction of its effect, so none counts twice."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from asyncio import FIRST_COMPLETED
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from services.common import db
from services.common.envelope import Received, utcnow
from services.common.metrics import EVENTS_CONSUMED, EVENTS_DUPLICATE
from services.common.pull import BatchPuller, ensure_consumer

log = logging.getLogger("plantrack.inbox")

Apply = Callable[[Connection, list[Received]], Any]
"""A batch's effect inside the inbox's transaction; what it returns reaches `after_commit`."""
AfterCommit = Callable[[list[Received], Any], Any]


def inbox_table(metadata: MetaData, name: str = "inbox") -> Table:
    return Table(
        name,
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def claim_fresh(conn: Connection, inbox: Table, ids: list[str]) -> set[str]:
    """Insert the ids into the inbox, returning those that were not there (one statement
    unless some were)."""
    now = utcnow()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                f"INSERT INTO {inbox.name} (event_id, processed_at) "
                "SELECT unnest(CAST(:ids AS varchar[])), :now "
                "ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            # In one order, so concurrent batches holding the same ids cannot deadlock.
            {"ids": sorted(ids), "now": now},
        )
        return set(rows.scalars())
    # SQLite: most batches are all new, so insert them all in one statement; when one id was
    # there already, the unique key refuses the statement, the savepoint undoes it, and the
    # ids already present are looked up first. The writer holds the database's write lock
    # from BEGIN IMMEDIATE, so ids found absent stay absent until commit.
    stamp = inbox.c.processed_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    when = stamp(now) if stamp else now
    head = f"INSERT INTO {inbox.name} (event_id, processed_at)"
    try:
        with conn.begin_nested():
            db.sqlite_insert_rows(conn, head, 2, [(event_id, when) for event_id in ids])
        return set(ids)
    except IntegrityError:
        pass
    seen: set[str] = set()
    for start in range(0, len(ids), db.SQLITE_ROWS):
        chunk = ids[start : start + db.SQLITE_ROWS]
        seen.update(
            conn.exec_driver_sql(
                f"SELECT event_id FROM {inbox.name} WHERE event_id IN "
                f"({', '.join(['?'] * len(chunk))})",
                tuple(chunk),
            ).scalars()
        )
    fresh = [i for i in ids if i not in seen]
    db.sqlite_insert_rows(conn, head, 2, [(event_id, when) for event_id in fresh])
    return set(fresh)


def apply_once(
    conn: Connection, inbox: Table, events: list[Received], apply: Apply
) -> tuple[list[Received], Any]:
    """Apply the events not seen before, recording them in the inbox; returns those applied
    and what `apply` returned (None when nothing was fresh)."""
    unique: dict[str, Received] = {}
    for ev in events:
        unique.setdefault(str(ev.id), ev)
    if not unique:
        return [], None
    fresh_ids = claim_fresh(conn, inbox, list(unique))
    fresh = [ev for key, ev in unique.items() if key in fresh_ids]
    return fresh, apply(conn, fresh) if fresh else None


LIVELY_SECONDS = 30.0
"""How long after a change someone made the backlog is applied in smaller batches."""
LIVELY_BATCH = 64
"""Meanwhile a batch is at most this many events: a change waits for no more than these."""


class WriteTurns:
    """Who works next: the events someone just caused go before the next batch of a backlog.

    A consumer working through a backlog begins its next batch the moment it committed the
    last, and its thread holds the interpreter between its statements: a change made now
    would share the process with it at every step (its transaction, the recomputation of the
    targets it moved), and on SQLite, which writes one transaction at a time, could wait behind
    many batches for the lock (SQLite's own retrying sleeps up to 100 ms at a time). Here, while
    urgent work is under way (`priority()`), the backlog's batches do not begin; an urgent
    transaction waits only for the batch being written, and on a one-writer database for no
    batch at all once it has begun. For a while after urgent work (`lively()`), the consumer
    takes smaller batches (LIVELY_BATCH), so the one being written is done sooner."""

    def __init__(self, *, single_writer: bool = True) -> None:
        self.single_writer = single_writer
        self._cond = threading.Condition()
        self._urgent = 0
        self._writing = 0
        self.urgent_at = -LIVELY_SECONDS  # when urgent work last ended (monotonic)

    def lively(self) -> bool:
        """Whether urgent work came in the last LIVELY_SECONDS: people are at work."""
        return time.monotonic() - self.urgent_at < LIVELY_SECONDS

    @contextmanager
    def priority(self) -> Iterator[None]:
        """Urgent work under way: no batch of the backlog begins until it ends."""
        with self._cond:
            self._urgent += 1
        try:
            yield
        finally:
            with self._cond:
                self._urgent -= 1
                self.urgent_at = time.monotonic()
                self._cond.notify_all()

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        """A transaction's turn: an urgent one waits only for a batch being written (on a
        one-writer database), a batch while any urgent work is under way."""
        with self._cond:
            if urgent:
                self._urgent += 1
                if self.single_writer:
                    self._cond.wait_for(lambda: self._writing == 0)
            else:
                self._cond.wait_for(lambda: self._urgent == 0)
            self._writing += 1
        try:
            yield
        finally:
            with self._cond:
                self._writing -= 1
                if urgent:
                    self._urgent -= 1
                    self.urgent_at = time.monotonic()
                self._cond.notify_all()


async def _release(msgs: list[Msg]) -> None:
    """Hand delivered but unhandled messages back, so another replica takes them at once."""
    for msg in msgs:
        try:
            await msg.nak()
        except BaseException:
            break


class Consumer:
    """A batched pull consumer on a durable: fetch, apply in one transaction, ack after commit.

    Several processes may run the same durable as competing consumers; a redelivered or
    duplicated message meets its id in the inbox and is acked without effect.
    """

    def __init__(
        self,
        *,
        nc: Client,
        js: JetStreamContext,
        engine: Engine,
        inbox: Table,
        apply: Apply,
        stream: str,
        config: ConsumerConfig,
        batch: int = 256,
        name: str = "consumer",
        after_commit: AfterCommit | None = None,
        in_flight: int = 1,
    ) -> None:
        self.nc = nc
        self.js = js
        self.engine = engine
        self.inbox = inbox
        self.apply = apply
        self.stream = stream
        self.config = config
        self.batch = batch
        self.name = name
        self.after_commit = after_commit
        self.in_flight = max(1, in_flight)
        self._workers: ThreadPoolExecutor | None = None
        self._stopping = False
        self.applied = 0
        self.duplicates = 0
        # PostgreSQL's writers do not wait for each other's transactions; SQLite's do.
        self.turns = WriteTurns(single_writer=engine.dialect.name == "sqlite")

    def stop(self) -> None:
        self._stopping = True

    def process(
        self, events: list[Received], *, urgent: bool = False
    ) -> tuple[list[Received], Any]:
        """Apply the events not applied before, in one transaction. `urgent`: ahead of the
        batches waiting to begin (see WriteTurns)."""
        with self.turns.turn(urgent=urgent):
            return self._transaction(events)

    def _transaction(self, events: list[Received]) -> tuple[list[Received], Any]:
        with self.engine.begin() as conn:
            return apply_once(conn, self.inbox, events, self.apply)

    async def run(self) -> None:
        """Fetch, decode and apply batches until stopped.

        Batches overlap: `in_flight` worker threads apply one batch each, in its own
        transaction, with one more batch queued behind them so a thread starts the next the
        moment it commits; meanwhile the loop fetches, and acks and announces what committed.
        Each batch is acked only after its own commit."""
        puller: BatchPuller | None = None
        applying: deque[Batch] = deque()
        backoff = 0.2
        self._workers = ThreadPoolExecutor(self.in_flight, thread_name_prefix=self.name)
        try:
            while not self._stopping:
                try:
                    if puller is None:
                        await ensure_consumer(self.js, self.stream, self.config)
                        puller = await BatchPuller(
                            self.nc,
                            stream=self.stream,
                            durable=self.config.durable_name or "",
                            batch=self.batch,
                        ).start()
                    msgs = await self._next(puller, applying)
                except TimeoutError:
                    await self._settle_all(applying)
                    continue
                except Exception as exc:
                    log.warning("%s: fetch failed: %s; retrying in %.1fs", self.name, exc, backoff)
                    await self._settle_all(applying)
                    if puller is not None:
                        await _release(await puller.close())
                        puller = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.2
                committed = []
                while len(applying) > self.in_flight:
                    oldest = applying.popleft()
                    if await self._committed(oldest):
                        committed.append(oldest)
                applying.append(self._start(Batch(msgs)))
                for batch in committed:  # acked while the new batch is being applied
                    await self._finish(batch)
        finally:
            await self._settle_all(applying)
            if puller is not None:
                await _release(await puller.close())
            self._workers.shutdown(wait=False)

    async def _next(self, puller: BatchPuller, applying: deque[Batch]) -> list[Msg]:
        """The next batch. A batch that commits meanwhile is acked and announced at once,
        so neither waits for new messages to arrive."""
        # While people are at work, smaller batches: a change of theirs waits for less.
        limit = min(self.batch, LIVELY_BATCH) if self.turns.lively() else None
        fetching = asyncio.ensure_future(puller.fetch(timeout=1.0, limit=limit))
        try:
            while applying and not fetching.done():
                await asyncio.wait({fetching, applying[0].job}, return_when=FIRST_COMPLETED)
                if applying[0].job.done():
                    await self._settle(applying.popleft())
            return await fetching
        finally:
            fetching.cancel()

    def _decode_and_process(self, batch: Batch) -> tuple[list[Received], Any]:
        """In a worker thread: decode the batch, then apply it. Decoding here leaves the event
        loop free to receive the next batch and ack the last one without holding the GIL
        the database work needs between its statements."""
        for msg in batch.msgs:
            try:
                batch.events.append(Received.from_bytes(msg.data))
                batch.decoded.append(msg)
            except Exception as exc:  # not an event of ours: never retry it
                log.error("%s: dropping undecodable message on %s: %s", self.name, msg.subject, exc)
                batch.undecodable.append(msg)
        return self.process(batch.events)

    def _start(self, batch: Batch) -> Batch:
        loop = asyncio.get_running_loop()
        batch.job = loop.run_in_executor(self._workers, self._decode_and_process, batch)
        return batch

    async def _committed(self, batch: Batch) -> bool:
        """Wait for a batch's transaction. If it failed, hand its messages back for a later
        redelivery (the inbox keeps whatever did commit from counting twice)."""
        try:
            await asyncio.shield(batch.job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "%s: batch of %d not applied (%s); will be redelivered",
                self.name,
                len(batch.msgs),
                exc,
            )
            await _settle_undecodable(batch)
            for msg in batch.decoded:
                try:
                    await msg.nak(delay=1)
                except Exception:
                    pass
            await asyncio.sleep(0.5)
            return False
        return True

    async def _settle(self, batch: Batch) -> None:
        if await self._committed(batch):
            await self._finish(batch)

    async def _settle_all(self, applying: deque[Batch]) -> None:
        while applying:
            await self._settle(applying.popleft())

    async def _finish(self, batch: Batch) -> None:
        """Ack a committed batch and run the after-commit hook."""
        await _settle_undecodable(batch)
        fresh, outcome = batch.job.result()
        self.applied += len(fresh)
        self.duplicates += len(batch.events) - len(fresh)
        EVENTS_CONSUMED.labels(self.name).inc(len(fresh))
        EVENTS_DUPLICATE.labels(self.name).inc(len(batch.events) - len(fresh))
        for msg in batch.decoded:
            try:
                await msg.ack()
            except Exception as exc:  # redelivered later; the inbox will skip it
                log.info(
                    "%s: ack failed (%s); the inbox will absorb the redelivery", self.name, exc
                )
        if fresh and self.after_commit is not None:
            try:
                result = self.after_commit(fresh, outcome)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("%s: after-commit hook failed", self.name)


@dataclass
class Batch:
    """Messages on their way through the consumer, with their decoded events."""

    msgs: list[Msg]
    decoded: list[Msg] = field(default_factory=list)
    events: list[Received] = field(default_factory=list)
    undecodable: list[Msg] = field(default_factory=list)
    job: asyncio.Future[tuple[list[Received], Any]] = field(init=False)


async def _settle_undecodable(batch: Batch) -> None:
    """Messages that are not events of ours are never retried."""
    while batch.undecodable:
        try:
            await batch.undecodable.pop().term()
        except Exception:
            pass
