"""Target views served from memory: computed once per state of the roll-up, kept as JSON bytes.

Every write that can change a view (a batch of events applied, a report made) ticks the
roll-up clock inside its own transaction; a replay's switch changes the active generation.
A view is kept with the clock's reading taken before it was computed, and a request reads the
clock first: the kept bytes are served only while the reading is unchanged, so no answer is
older than the last committed write, whichever replica committed it. The reading is one small
query; the views cost a hundred queries over the facts. Any `as_of` is part of the key, so a
past date is computed once and kept for as long as nothing is written.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

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


class ViewCache:
    """JSON views by key, each valid for the clock reading it was computed at.

    Concurrent requests for a view being computed wait for that computation rather than
    repeat it (a lock per stripe of keys)."""

    def __init__(self, engine: Engine, *, max_bytes: int = MAX_BYTES) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self._views: OrderedDict[Hashable, tuple[Reading, bytes]] = OrderedDict()
        self._bytes = 0
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(STRIPES)]
        self.hits = 0
        self.computed = 0

    def get(self, key: Hashable, compute: Compute) -> bytes:
        """The view of `key` as of now: kept, or computed and kept."""
        with self.engine.connect() as conn:
            found = self._current(key, read_clock(conn))
        if found is not None:
            return found
        with self._stripes[hash(key) % STRIPES]:
            with self.engine.connect() as conn:
                now = read_clock(conn)
                found = self._current(key, now)
                if found is not None:
                    return found
                body = compute(conn, now.generation)
            self._keep(key, now, body)
            self.computed += 1
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
