"""Domain events → roll-up facts: one handler per event type, highest version wins, bulk upserts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from services.common import db
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
def _day(text: str) -> date:
    return date.fromisoformat(text)


def day(value: Any) -> date | None:
    """A snapshot's YYYY-MM-DD (or None) as a date; the same few dates recur, so cache them."""
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else _day(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class Facts:
    """The snapshots of a batch of events, one per entity: the highest version seen."""

    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    enterprises: dict[int, dict[str, Any]] = field(default_factory=dict)
    designations: dict[int, dict[str, Any]] = field(default_factory=dict)
    # What the batch may have moved, so only those targets are recomputed.
    categories: set[str] = field(default_factory=set)
    designation_types: set[str] = field(default_factory=set)
    enterprises_changed: bool = False
    reported: set[str] = field(default_factory=set)
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.projects) + len(self.enterprises) + len(self.designations)

    def add(self, event_type: str, payload: dict[str, Any]) -> None:
        """Fold one event in by its type's handler; a malformed one is logged and skipped."""
        handler = HANDLERS.get(event_type)
        if handler is None:
            return
        try:
            handler(self, payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.skipped += 1
            log.error("skipping a malformed %s event: %r", event_type, exc)

    def project(self, snap: dict[str, Any]) -> None:
        row = {
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
            "stages": tuple(
                (int(s["ordinal"]), str(s["stage"]), day(s["on"])) for s in snap["stages"]
            ),
        }
        self.categories.add(row["category"])
        _keep(self.projects, row)

    def enterprise(self, snap: dict[str, Any]) -> None:
        row = {
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
        _keep(self.enterprises, row)

    def designation(self, snap: dict[str, Any]) -> None:
        renews = snap.get("renews_id")
        row = {
            "id": int(snap["id"]),
            "version": int(snap["version"]),
            "enterprise_id": int(snap["enterprise_id"]),
            "type": str(snap["type"]),
            "level": snap.get("level"),
            "granted_on": day(snap["granted_on"]),
            "expires_on": day(snap.get("expires_on")),
            "revoked_on": day(snap.get("revoked_on")),
            "renews_id": None if renews is None else int(renews),
            "status": snap.get("status"),
            "certificate_no": snap.get("certificate_no"),
        }
        self.designation_types.add(row["type"])
        _keep(self.designations, row)

    def merge(self, other: Facts) -> None:
        for mine, theirs in (
            (self.projects, other.projects),
            (self.enterprises, other.enterprises),
            (self.designations, other.designations),
        ):
            for row in theirs.values():
                _keep(mine, row)
        self.categories |= other.categories
        self.designation_types |= other.designation_types
        self.enterprises_changed |= other.enterprises_changed
        self.reported |= other.reported
        self.skipped += other.skipped


def _keep(bucket: dict[int, dict[str, Any]], row: dict[str, Any]) -> None:
    held = bucket.get(row["id"])
    if held is None or held["version"] < row["version"]:
        bucket[row["id"]] = row


# --- one handler per event type -----------------------------------------------------------

Handler = Callable[[Facts, dict[str, Any]], None]


def on_project(facts: Facts, payload: dict[str, Any]) -> None:
    facts.project(payload["project"])
    # A category change moves the project out of the old category's targets too.
    changed = (payload.get("changes") or {}).get("category")
    if isinstance(changed, list):
        facts.categories.update(str(c) for c in changed if c)


def on_enterprise(facts: Facts, payload: dict[str, Any]) -> None:
    facts.enterprise(payload["enterprise"])
    facts.enterprises_changed = True


def on_designation(facts: Facts, payload: dict[str, Any]) -> None:
    facts.enterprise(payload["enterprise"])
    facts.designation(payload["designation"])


def on_report(facts: Facts, payload: dict[str, Any]) -> None:
    facts.reported.add(str(payload["target_id"]))


HANDLERS: dict[str, Handler] = {
    "ProjectRegistered": on_project,
    "ProjectUpdated": on_project,
    "ProjectStageChanged": on_project,
    "EnterpriseRegistered": on_enterprise,
    "EnterpriseUpdated": on_enterprise,
    "DesignationGranted": on_designation,
    "DesignationRenewed": on_designation,
    "DesignationRevoked": on_designation,
    "DesignationExpired": on_designation,
    "TargetReported": on_report,
}
"""Milestones, investment and blockers move no target: their events are recorded and skipped."""


# --- writing facts --------------------------------------------------------------------------


def _upsert(conn: Connection, table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    rest = [c.name for c in table.columns if c.name not in keys]
    return db.upsert(conn.engine, table, keys, rest, newer_than="version")


def rows_for(facts: Facts, generation: int) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The upsert rows of each fact table for `generation`, in primary-key order.

    Sorted, so competing writers lock rows in the same order and cannot deadlock.
    Every stage entry carries its snapshot's version; readers count only entries whose
    version is the project's, so an entry a newer snapshot no longer has drops out.
    """
    projects, stages = [], []
    for pid in sorted(facts.projects):
        row = facts.projects[pid]
        projects.append(
            {k: v for k, v in row.items() if k != "stages"} | {"generation": generation}
        )
        for ordinal, stage, on in sorted(row["stages"]):
            stages.append(
                {
                    "generation": generation,
                    "project_id": pid,
                    "ordinal": ordinal,
                    "version": row["version"],
                    "stage": stage,
                    "entered_on": on,
                }
            )
    enterprises = [
        facts.enterprises[k] | {"generation": generation} for k in sorted(facts.enterprises)
    ]
    designations = [
        facts.designations[k] | {"generation": generation} for k in sorted(facts.designations)
    ]
    return [
        (PROJECTS, projects),
        (STAGES, stages),
        (ENTERPRISES, enterprises),
        (DESIGNATIONS, designations),
    ]


def write(conn: Connection, facts: Facts, generations: Iterable[int]) -> int:
    """Upsert the facts into each generation, keeping the higher version; returns rows sent."""
    sent = 0
    for generation in generations:
        for table, rows in rows_for(facts, generation):
            if rows:
                conn.execute(_upsert(conn, table), rows)
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
