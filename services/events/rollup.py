"""Domain events → roll-up facts: one handler per event type, highest version wins, bulk upserts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from services.common import db
from services.common.contracts.events import (
    DesignationEvent,
    DesignationExpired,
    DesignationGranted,
    DesignationRenewed,
    DesignationRevoked,
    DomainEvent,
    EnterpriseEvent,
    EnterpriseRegistered,
    EnterpriseUpdated,
    ProjectRegistered,
    ProjectStageChanged,
    ProjectUpdated,
    TargetReported,
)
from services.events.models import (
    FactDesignation,
    FactEnterprise,
    FactProject,
    FactProjectStage,
    RollupState,
)

log = logging.getLogger("plantrack.events.rollup")

PROJECTS: Table = FactProject.__table__  # type: ignore[assignment]
STAGES: Table = FactProjectStage.__table__  # type: ignore[assignment]
ENTERPRISES: Table = FactEnterprise.__table__  # type: ignore[assignment]
DESIGNATIONS: Table = FactDesignation.__table__  # type: ignore[assignment]
STATE: Table = RollupState.__table__  # type: ignore[assignment]


@lru_cache(maxsize=16_384)
def _day(text: str) -> str:
    return date.fromisoformat(text).isoformat()


def day(value: Any) -> str | None:
    """A snapshot's date, checked, as the YYYY-MM-DD the Date columns hold (the drivers take
    it as is, which spares a date object per value); the same dates recur, so cache them."""
    if value is None or value == "":
        return None
    return value.isoformat() if isinstance(value, date) else _day(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


Held = dict[int, tuple[int, dict[str, Any]]]
"""Entity id → (version, snapshot): the raw snapshot, turned into rows only if it is kept."""


@dataclass
class Facts:
    """The snapshots of a run of events, one per entity: the highest version seen."""

    projects: Held = field(default_factory=dict)
    enterprises: Held = field(default_factory=dict)
    designations: Held = field(default_factory=dict)
    # What the events may have moved, so only those targets are recomputed.
    categories: set[str] = field(default_factory=set)
    designation_types: set[str] = field(default_factory=set)
    enterprises_changed: bool = False
    reported: set[str] = field(default_factory=set)
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.projects) + len(self.enterprises) + len(self.designations)

    def add(self, event_type: str, payload: dict[str, Any]) -> None:
        """Fold one event in by its type's handler; a malformed one is logged and skipped."""
        known = HANDLERS.get(event_type)
        if known is None:
            return
        kind, handler = known
        try:
            handler(self, kind.parse(payload))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.skipped += 1
            log.error("skipping a malformed %s event: %r", event_type, exc)

    def project(self, snap: dict[str, Any]) -> None:
        if not isinstance(snap["stages"], list):  # without its history a project counts nowhere
            raise TypeError("a project snapshot carries its stage history")
        self.categories.add(str(snap["category"]))
        _keep(self.projects, snap)

    def enterprise(self, snap: dict[str, Any]) -> None:
        _keep(self.enterprises, snap)

    def designation(self, snap: dict[str, Any]) -> None:
        self.designation_types.add(str(snap["type"]))
        _keep(self.designations, snap)


def _keep(bucket: Held, snap: dict[str, Any]) -> None:
    key, version = int(snap["id"]), int(snap["version"])
    held = bucket.get(key)
    if held is None or held[0] < version:
        bucket[key] = (version, snap)


def project_row(snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(snap["id"]),
        "version": int(snap["version"]),
        "name": str(snap.get("name") or ""),
        "category": str(snap["category"]),
        "stage": str(snap["stage"]),
        "quantity": _number(snap.get("quantity")),
        "quantity_unit": snap.get("quantity_unit"),
        "planned_start": day(snap.get("planned_start")),
        "planned_completion": day(snap.get("planned_completion")),
        "created_on": day(snap.get("created_on")),
    }


def stage_rows(snap: dict[str, Any]) -> list[dict[str, Any]]:
    # Every entry carries its snapshot's version; readers count only entries whose version
    # is the project's, so an entry a newer snapshot no longer has drops out.
    pid, version = int(snap["id"]), int(snap["version"])
    rows = [
        {
            "project_id": pid,
            "ordinal": int(s["ordinal"]),
            "version": version,
            "stage": str(s["stage"]),
            "entered_on": day(s["on"]),
        }
        for s in snap["stages"]
    ]
    return sorted(rows, key=lambda r: r["ordinal"])


def enterprise_row(snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(snap["id"]),
        "version": int(snap["version"]),
        "name": str(snap.get("name") or ""),
        "uscc": snap.get("uscc"),
        "industry_section": snap.get("industry_section"),
        "industry_chain": snap.get("industry_chain"),
        "sub_district": snap.get("sub_district"),
        "landed_on": day(snap.get("landed_on")),
        "source_channel": snap.get("source_channel"),
    }


def designation_row(snap: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(snap["id"]),
        "version": int(snap["version"]),
        "enterprise_id": int(snap["enterprise_id"]),
        "type": str(snap["type"]),
        "level": snap.get("level"),
        "granted_on": day(snap["granted_on"]),
        "expires_on": day(snap.get("expires_on")),
        "revoked_on": day(snap.get("revoked_on")),
        "renews_id": _int(snap.get("renews_id")),
        "status": snap.get("status"),
        "certificate_no": snap.get("certificate_no"),
        "item_name": snap.get("item_name"),
    }


# --- one handler per event type -----------------------------------------------------------

Handler = Callable[[Facts, Any], None]
ProjectEvent = ProjectRegistered | ProjectUpdated | ProjectStageChanged


def on_project(facts: Facts, event: ProjectEvent) -> None:
    facts.project(event.project)
    # A category change moves the project out of the old category's targets too.
    if isinstance(event, ProjectUpdated):
        changed = event.changes.get("category")
        if changed:
            facts.categories.update(str(c) for c in changed if c)


def on_enterprise(facts: Facts, event: EnterpriseEvent) -> None:
    facts.enterprise(event.enterprise)
    facts.enterprises_changed = True


def on_designation(facts: Facts, event: DesignationEvent) -> None:
    facts.enterprise(event.enterprise)
    facts.designation(event.designation)


def on_report(facts: Facts, event: TargetReported) -> None:
    facts.reported.add(event.target_id)


def _handlers(*pairs: tuple[tuple[type[DomainEvent], ...], Handler]) -> dict[str, Any]:
    return {kind.TYPE: (kind, handler) for kinds, handler in pairs for kind in kinds}


HANDLERS: dict[str, tuple[type[DomainEvent], Handler]] = _handlers(
    ((ProjectRegistered, ProjectUpdated, ProjectStageChanged), on_project),
    ((EnterpriseRegistered, EnterpriseUpdated), on_enterprise),
    (
        (DesignationGranted, DesignationRenewed, DesignationRevoked, DesignationExpired),
        on_designation,
    ),
    ((TargetReported,), on_report),
)
"""Milestones, investment and blockers move no target: their events are recorded and skipped."""


# --- writing facts --------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _sqlite_upsert(table: Table) -> tuple[str, str, tuple[str, ...]]:
    """SQLite: the keep-the-higher-version upsert as (head, tail, column order) for
    db.sqlite_insert_rows."""
    names = tuple(c.name for c in table.columns)
    keys = [c.name for c in table.primary_key.columns]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
    head = f"INSERT INTO {table.name} ({', '.join(names)})"
    tail = (
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates} "
        f"WHERE {table.name}.version < excluded.version"
    )
    return head, tail, names


@lru_cache(maxsize=8)
def _json_upsert(table: Table) -> str:
    """PostgreSQL: the keep-the-higher-version upsert of rows sent as one JSON array (orjson
    writes it in C; the driver's array dumpers cost more per row than the upsert itself)."""
    names = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    record = ", ".join(
        f"{c.name} {c.type.compile(dialect=postgresql.dialect())}" for c in table.columns
    )
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT {', '.join(names)} FROM json_to_recordset(%(rows)s::json) AS r({record}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates} "
        f"WHERE {table.name}.version < excluded.version"
    )


WRITE_CHUNK = 5_000
"""Rows built at a time: large enough to be fast, small enough to bound the copies held."""

RowMaker = Callable[[dict[str, Any]], dict[str, Any] | list[dict[str, Any]]]


def _rows(held: Held, make: RowMaker, generation: int) -> Iterator[dict[str, Any]]:
    """Rows of the kept snapshots in key order; a malformed snapshot is logged and left out."""
    for key in sorted(held):
        try:
            made = make(held[key][1])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.error("skipping a malformed snapshot %s: %r", key, exc)
            continue
        for row in made if isinstance(made, list) else (made,):
            row["generation"] = generation
            yield row


def rows_for(facts: Facts, generation: int) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    """The upsert rows of each fact table for `generation`, in chunks, in primary-key order.

    Sorted, so competing writers lock rows in the same order and cannot deadlock.
    """
    for table, rows in (
        (PROJECTS, _rows(facts.projects, project_row, generation)),
        (STAGES, _rows(facts.projects, stage_rows, generation)),
        (ENTERPRISES, _rows(facts.enterprises, enterprise_row, generation)),
        (DESIGNATIONS, _rows(facts.designations, designation_row, generation)),
    ):
        while chunk := list(islice(rows, WRITE_CHUNK)):
            yield table, chunk


def write(conn: Connection, facts: Facts, generations: Iterable[int]) -> int:
    """Upsert the facts into each generation, keeping the higher version; returns rows sent."""
    sent = 0
    for generation in generations:
        for table, rows in rows_for(facts, generation):
            if conn.dialect.name == "postgresql":
                # One statement per chunk, its rows one JSON parameter.
                conn.exec_driver_sql(_json_upsert(table), {"rows": orjson.dumps(rows).decode()})
            else:  # SQLite: multi-row statements
                head, tail, names = _sqlite_upsert(table)
                values = list(map(itemgetter(*names), rows))
                db.sqlite_insert_rows(conn, head, len(names), values, tail)
            sent += len(rows)
    return sent


# --- which generations are live -------------------------------------------------------------


@dataclass(frozen=True)
class Generations:
    active: int
    building: int | None

    @property
    def writable(self) -> tuple[int, ...]:
        """Where live events go: the active generation, and the one a replay is building."""
        return (self.active,) if self.building is None else (self.active, self.building)


def generations(conn: Connection, *, lock: bool = False) -> Generations:
    """The rollup state; with `lock`, held (shared) until commit so a switch waits for us."""
    stmt = select(STATE.c.active, STATE.c.building).where(STATE.c.id == 1)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(read=True)
    row = conn.execute(stmt).first()
    if row is None:
        return Generations(active=1, building=None)
    return Generations(active=row.active, building=row.building)


def apply_events(conn: Connection, typed_payloads: Iterable[tuple[str, dict[str, Any]]]) -> Facts:
    """Fold events into facts and write them to every writable generation (caller's tx)."""
    facts = Facts()
    for event_type, payload in typed_payloads:
        facts.add(event_type, payload)
    if len(facts):
        write(conn, facts, generations(conn, lock=True).writable)
    return facts
