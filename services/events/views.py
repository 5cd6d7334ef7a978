"""Target views served from memory: computed once per state of the roll-up, kept as JSON bytes.

Every write that can change a view (a batch of events applied, a report made) ticks the
roll-up clock inside its own transaction; a replay's switch changes the active generation.
A view is kept with the clock's reading taken before it was computed, and a request reads the
clock first: the kept bytes are served only while the reading is unchanged, so no answer is
older than the last committed write, whichever replica committed it. The reading is one small
query; the views cost a hundred queries over the facts. Any `as_of` is part of the key, so a
past date is computed once and kept for as long as nothing is written.

Requests share their readings (`ClockReads`): a request waits for a reading that started after it
arrived, and every request waiting meanwhile takes that same reading, so a process runs at most
one clock query at a time however many clients call. A kept view is then answered on the event
loop itself; only a view to compute goes to a worker thread, once for all who asked at that
reading.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

PROCESS = uuid.uuid4().hex[:20]
"""This process's part of its clock slots (a slot per writing thread, so writers never wait
for each other's row)."""

MAX_BYTES = 64 * 1024 * 1024
"""Views kept at most, in bytes of JSON; the least recently served go first."""
STRIPES = 64

_TICK = text(
    "INSERT INTO rollup_clock (slot, ticks) VALUES (:slot, 1) "
    "ON CONFLICT (slot) DO UPDATE SET ticks = rollup_clock.ticks + 1"
)
_READ = text(
    "SELECT (SELECT active FROM rollup_state WHERE id = 1), "
    "(SELECT COALESCE(SUM(ticks), 0) FROM rollup_clock)"
)


def tick(conn: Connection) -> None:
    """Record, in the caller's transaction, that what target views read has changed."""
    conn.execute(_TICK, {"slot": f"{PROCESS}-{threading.get_native_id()}"})


@dataclass(frozen=True, slots=True)
class Reading:
    """The roll-up's state as far as views go: the active generation and the clock's sum."""

    generation: int
    ticks: int


def read_clock(conn: Connection) -> Reading:
    active, ticks = conn.execute(_READ).one()
    return Reading(generation=int(active or 1), ticks=int(ticks))


Compute = Callable[[Connection, int], bytes]
"""Builds a view's JSON from a connection and the generation to read."""


class ClockReads:
    """Clock readings shared by the requests of one event loop.

    A request arriving while no reading runs starts one. A request arriving while one runs
    waits for the next, which starts the moment the running one ends and is shared by every
    request that arrived meanwhile. So each request's reading began after the request did
    (it sees every write committed before the request arrived), and at most one reading runs
    at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: asyncio.Future[Reading] | None = None
        self._next: asyncio.Future[Reading] | None = None
        self._task: asyncio.Task[None] | None = None
        self.queries = 0

    async def read(self) -> Reading:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests run several): nothing of the old one
            self._loop, self._running, self._next = loop, None, None
        if self._running is None:
            wanted = self._running = loop.create_future()
            self._task = loop.create_task(self._query(wanted))
        else:
            if self._next is None:
                self._next = loop.create_future()
            wanted = self._next
        # shielded: a caller that leaves does not cancel the reading the others wait for
        return await asyncio.shield(wanted)

    async def _query(self, wanted: asyncio.Future[Reading]) -> None:
        try:
            wanted.set_result(await to_thread.run_sync(self._read))
        except Exception as exc:  # every waiter gets the error (a busy database: a 503)
            wanted.set_exception(exc)
            wanted.exception()  # retrieved, so that no waiter left means no warning
        finally:
            if not wanted.done():  # cancelled (the loop is closing)
                wanted.cancel()
            if self._running is wanted:
                self._running, self._next = self._next, None
                if self._running is not None:
                    self._task = asyncio.get_running_loop().create_task(self._query(self._running))

    def _read(self) -> Reading:
        self.queries += 1
        with self.engine.connect() as conn:
            return read_clock(conn)


class ViewCache:
    """JSON views by key, each valid for the clock reading it was computed at.

    Concurrent requests for a view being computed wait for that computation rather than
    repeat it (one computation per key and reading on the event loop; a lock per stripe of
    keys across threads)."""

    def __init__(self, engine: Engine, *, max_bytes: int = MAX_BYTES) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self.clock = ClockReads(engine)
        self._views: OrderedDict[Hashable, tuple[Reading, bytes]] = OrderedDict()
        self._bytes = 0
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(STRIPES)]
        self._computing: dict[Hashable, tuple[Reading, asyncio.Future[bytes]]] = {}
        self.hits = 0
        self.computed: Counter[Hashable] = Counter()  # by the key's first part (its kind)

    async def kept(self, key: Hashable) -> bytes | None:
        """The view of `key` if it is kept at a clock reading begun after the call, else None."""
        return self._current(key, await self.clock.read())

    async def serve(self, key: Hashable, compute: Compute) -> bytes:
        """The view of `key` as of a clock reading begun after the call: kept, or computed
        (in a worker thread) and kept. Requests served from a kept view never leave the loop."""
        now = await self.clock.read()
        found = self._current(key, now)
        if found is not None:
            return found
        running = self._computing.get(key)
        if (
            running is None
            or running[0] != now
            or running[1].get_loop() is not asyncio.get_running_loop()
        ):
            task = asyncio.ensure_future(to_thread.run_sync(self._compute_at, key, now, compute))
            running = self._computing[key] = (now, task)
            task.add_done_callback(partial(self._forget, key, running))
        return await asyncio.shield(running[1])

    def _forget(
        self, key: Hashable, running: tuple[Reading, asyncio.Future[bytes]], _: Any
    ) -> None:
        if self._computing.get(key) is running:
            del self._computing[key]

    def get(self, key: Hashable, compute: Compute) -> bytes:
        """The view of `key` as of now, from a worker thread: kept, or computed and kept."""
        with self.engine.connect() as conn:
            now = read_clock(conn)
        found = self._current(key, now)
        if found is not None:
            return found
        return self._compute_at(key, now, compute)

    def _compute_at(self, key: Hashable, now: Reading, compute: Compute) -> bytes:
        """The view computed on a connection opened after `now` was read (so it holds at
        least every write `now` counts), kept under `now`."""
        with self._stripes[hash(key) % STRIPES]:
            found = self._current(key, now)  # computed meanwhile at the same reading
            if found is not None:
                return found
            with self.engine.connect() as conn:
                body = compute(conn, now.generation)
            self._keep(key, now, body)
            self.computed[key[0] if isinstance(key, tuple) else key] += 1
            return body

    def _current(self, key: Hashable, now: Reading) -> bytes | None:
        with self._guard:
            kept = self._views.get(key)
            if kept is None or kept[0] != now:
                return None
            self._views.move_to_end(key)
            self.hits += 1
            return kept[1]

    def _keep(self, key: Hashable, at: Reading, body: bytes) -> None:
        with self._guard:
            old = self._views.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._views[key] = (at, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes and len(self._views) > 1:
                _, (_, dropped) = self._views.popitem(last=False)
                self._bytes -= len(dropped)
