"""The ledger (台账) as a workbook, and the OC4IDS open-data export.

One row per project in the ledger sheet, with its `id` and `version` so an import of the same
file can tell an edit from a new project (services/projects/importer.py). The stage history
travels as one date column per stage (入库储备日期, 开工日期, 转入在建日期, 建成日期, 取消日期);
milestones and blockers have sheets of their own. After the columns an import reads come those
a clerk reads only: cumulative investment and its share, the next milestone, open blockers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.common.bulk import allocate_ids, bulk_insert
from services.common.contracts.categories import CATEGORY_LABELS, PROJECT_CATEGORIES
from services.common.contracts.stages import STAGE_LABELS
from services.common.envelope import utcnow
from services.common.errors import Conflict
from services.common.history import diff, history_row
from services.common.outbox import outbox_rows
from services.common.spreadsheet import (
    Column,
    SheetSpec,
    choice,
    code_text,
    date_cell,
    date_value,
    integer,
    non_negative,
    text,
    write_csv,
    write_workbook,
)
from services.projects import events
from services.projects.catalogue import LEVEL_LABELS, MILESTONE_KIND_LABELS, SUB_DISTRICTS
from services.projects.labels import (
    BLOCKER_HEADERS,
    BLOCKER_KIND_LABELS,
    BLOCKER_SHEET_TITLE,
    EXPORT_HEADERS,
    LEDGER_HEADERS,
    LEDGER_SHEET_TITLE,
    MESSAGES,
    MILESTONE_HEADERS,
    MILESTONE_SHEET_TITLE,
    OC4IDS_PUBLISHER,
)
from services.projects.models import EDITABLE, Blocker, Milestone, history, outbox
from services.projects.oc4ids import to_oc4ids_package
from services.projects.pipeline import DATES, placing
from services.projects.service import PROJECT, STAGE, to_public

STAGE_COLUMNS = {
    "reserve": "reserve_on",
    "starting": "starting_on",
    "building": "building_on",
    "built": "built_on",
    "cancelled": "cancelled_on",
}
MILESTONE = Milestone.__table__
BLOCKER = Blocker.__table__


def _label_of(labels: Mapping[str, str]) -> Any:
    return lambda v: labels.get(v, v)


def _h(field: str) -> str:
    return LEDGER_HEADERS[field]


def _coded(field: str, labels: Mapping[str, str], required: bool = False) -> Column:
    return Column(
        field,
        _h(field),
        choice(labels),
        _label_of(labels),
        required,
        choices=tuple(labels.values()),
    )


def _percent(value: Any) -> Any:
    return round(value * 100, 1) if isinstance(value, float) else value


COLUMNS: list[Column] = [
    Column("name", _h("name"), text, required=True, width=36),
    _coded("category", CATEGORY_LABELS, True),
    Column("code", _h("code"), code_text, width=26),
    _coded("level", LEVEL_LABELS),
    Column("sub_district", _h("sub_district"), text, choices=SUB_DISTRICTS, width=14),
    Column("lead_department", _h("lead_department"), text, width=20),
    Column("plan_clause", _h("plan_clause"), code_text),
    Column("quantity", _h("quantity"), non_negative),
    Column("quantity_unit", _h("quantity_unit"), text),
    Column("total_investment_wan", _h("total_investment_wan"), non_negative, width=16),
    Column("planned_start", _h("planned_start"), date_value, date_cell, width=14),
    Column("planned_completion", _h("planned_completion"), date_value, date_cell, width=14),
    Column("created_on", _h("created_on"), date_value, date_cell, width=14),
    _coded("stage", STAGE_LABELS),
    *(Column(f, _h(f), date_value, date_cell, width=14) for f in STAGE_COLUMNS.values()),
]
"""The columns an import reads for a new project (the layout of the import template)."""

KEY_COLUMNS: list[Column] = [
    Column("id", EXPORT_HEADERS["id"], integer),
    Column("version", EXPORT_HEADERS["version"], integer),
]
IMPORT_COLUMNS: list[Column] = [*COLUMNS, *KEY_COLUMNS]
"""What an import reads: the columns, and the id and version an export carries."""

EXPORT_COLUMNS: list[Column] = [
    *COLUMNS,
    Column("completed_investment_wan", EXPORT_HEADERS["completed_investment_wan"], text),
    Column("investment_share", EXPORT_HEADERS["investment_share"], text, _percent),
    Column("next_milestone", EXPORT_HEADERS["next_milestone"], text, width=30),
    Column("open_blockers", EXPORT_HEADERS["open_blockers"], text, width=40),
    *KEY_COLUMNS,
]
"""What an export writes: the import's columns, what a clerk reads only, then id and version."""


def _mh(field: str) -> str:
    return MILESTONE_HEADERS[field]


def _bh(field: str) -> str:
    return BLOCKER_HEADERS[field]


MILESTONE_COLUMNS: list[Column] = [
    Column("project_id", _mh("project_id"), integer, required=True),
    Column("project_name", _mh("project_name"), text, width=36),
    Column(
        "kind",
        _mh("kind"),
        choice(MILESTONE_KIND_LABELS),
        _label_of(MILESTONE_KIND_LABELS),
        choices=tuple(MILESTONE_KIND_LABELS.values()),
    ),
    Column("title", _mh("title"), text, required=True, width=30),
    Column("due_on", _mh("due_on"), date_value, date_cell, width=14),
    Column("done_on", _mh("done_on"), date_value, date_cell, width=14),
    Column("id", _mh("id"), integer),
    Column("version", _mh("version"), integer),
]
BLOCKER_COLUMNS: list[Column] = [
    Column("project_id", _bh("project_id"), integer, required=True),
    Column("project_name", _bh("project_name"), text, width=36),
    Column(
        "kind",
        _bh("kind"),
        choice(BLOCKER_KIND_LABELS),
        _label_of(BLOCKER_KIND_LABELS),
        choices=tuple(BLOCKER_KIND_LABELS.values()),
    ),
    Column("description", _bh("description"), text, required=True, width=40),
    Column("responsible_department", _bh("responsible_department"), text, width=20),
    Column("raised_on", _bh("raised_on"), date_value, date_cell, width=14),
    Column("due_on", _bh("due_on"), date_value, date_cell, width=14),
    Column("resolved_on", _bh("resolved_on"), date_value, date_cell, width=14),
    Column("resolution", _bh("resolution"), text, width=30),
    Column("id", _bh("id"), integer),
    Column("version", _bh("version"), integer),
]


# ---- export ------------------------------------------------------------------------------


def _entries_for(session: Session, conds: list[Any]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(
        select(STAGE.c.project_id, STAGE.c.stage, STAGE.c.entered_on, STAGE.c.ordinal, STAGE.c.note)
        .where(STAGE.c.project_id.in_(select(PROJECT.c.id).where(*conds)))
        .order_by(STAGE.c.project_id, STAGE.c.ordinal)
    )
    for r in rows:
        out[r.project_id].append(
            {"stage": r.stage, "on": r.entered_on, "ordinal": r.ordinal, "note": r.note}
        )
    return out


def ledger_rows(session: Session, conds: list[Any]) -> list[dict[str, Any]]:
    """Every matching project as a ledger row: fields, one date per stage entered, the share of
    its investment done, its next open milestone and its open blockers."""
    stages = _entries_for(session, conds)
    ids = select(PROJECT.c.id).where(*conds)
    next_milestone: dict[int, str] = {}
    for m in session.execute(
        select(MILESTONE.c.project_id, MILESTONE.c.title, MILESTONE.c.due_on)
        .where(MILESTONE.c.project_id.in_(ids), MILESTONE.c.done_on.is_(None))
        .order_by(MILESTONE.c.project_id, MILESTONE.c.due_on.is_(None), MILESTONE.c.due_on)
    ):
        if m.project_id not in next_milestone:
            due = f" {m.due_on.isoformat()}" if m.due_on else ""
            next_milestone[m.project_id] = f"{m.title}{due}"
    open_blockers: dict[int, list[str]] = defaultdict(list)
    for b in session.execute(
        select(BLOCKER.c.project_id, BLOCKER.c.kind, BLOCKER.c.description)
        .where(BLOCKER.c.project_id.in_(ids), BLOCKER.c.resolved_on.is_(None))
        .order_by(BLOCKER.c.project_id, BLOCKER.c.id)
    ):
        label = BLOCKER_KIND_LABELS.get(b.kind, b.kind)
        open_blockers[b.project_id].append(f"{label}：{b.description}")
    out = []
    for p in session.execute(select(PROJECT).where(*conds).order_by(PROJECT.c.id)):
        row = dict(p._mapping)
        for s in stages[p.id]:
            row[STAGE_COLUMNS[s["stage"]]] = s["on"]
        total = row["total_investment_wan"]
        row["investment_share"] = row["completed_investment_wan"] / total if total else None
        row["next_milestone"] = next_milestone.get(p.id)
        row["open_blockers"] = "；".join(open_blockers.get(p.id, ())) or None
        out.append(row)
    return out


def _children(session: Session, table: Table, conds: list[Any]) -> list[dict[str, Any]]:
    rows = session.execute(
        select(table, PROJECT.c.name.label("project_name"))
        .join(PROJECT, PROJECT.c.id == table.c.project_id)
        .where(*conds)
        .order_by(table.c.project_id, table.c.id)
    )
    return [dict(r._mapping) for r in rows]


def export_sheet(session: Session, conds: list[Any], fmt: str) -> bytes:
    """The ledger as CSV (the projects only) or as a workbook with milestones and blockers."""
    rows = ledger_rows(session, conds)
    if fmt == "csv":
        return write_csv(EXPORT_COLUMNS, rows)
    return write_workbook(
        [
            SheetSpec(LEDGER_SHEET_TITLE, EXPORT_COLUMNS, rows),
            SheetSpec(
                MILESTONE_SHEET_TITLE, MILESTONE_COLUMNS, _children(session, MILESTONE, conds)
            ),
            SheetSpec(BLOCKER_SHEET_TITLE, BLOCKER_COLUMNS, _children(session, BLOCKER, conds)),
        ]
    )


def export_oc4ids(
    session: Session, conds: list[Any], *, uri: str, today: date
) -> dict[str, Any] | None:
    """An OC4IDS 0.9 project package of the matching projects (None when there are none)."""
    stages = _entries_for(session, conds)
    milestones: dict[int, list[dict[str, Any]]] = defaultdict(list)
    m = Milestone.__table__
    for r in session.execute(
        select(m)
        .where(m.c.project_id.in_(select(PROJECT.c.id).where(*conds)))
        .order_by(m.c.project_id, m.c.id)
    ):
        milestones[r.project_id].append(dict(r._mapping))
    projects = [
        {**to_public(p._mapping, stages[p.id]), "milestones": milestones[p.id]}
        for p in session.execute(select(PROJECT).where(*conds).order_by(PROJECT.c.id))
    ]
    if not projects:
        return None
    return to_oc4ids_package(
        projects, published_date=utcnow(), uri=uri, publisher=OC4IDS_PUBLISHER, today=today
    )


# ---- import: bulk insert of new projects ---------------------------------------------


def _record(values: dict[str, Any], entries: list[tuple[str, date]], now: datetime) -> dict:
    """The project row of one checked ledger row."""
    rec = {k: values.get(k) for k in EDITABLE}
    if rec["quantity"] is not None and not rec["quantity_unit"]:
        rec["quantity_unit"] = PROJECT_CATEGORIES[rec["category"]].unit
    rec.update(
        stage=entries[-1][0],
        stage_on=entries[-1][1],
        created_on=values.get("created_on") or entries[0][1],
        completed_investment_wan=0.0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    return rec


def import_rows(
    session: Session,
    rows: list[tuple[dict[str, Any], list[tuple[str, date]]]],
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Insert checked rows in bulk (projects, stages, history, events); returns the new ids.
    `progress` is told the rows inserted so far, after each chunk.

    A few thousand rows at a time, all in the caller's one transaction: the rows, events and
    statement parameters of a 50,000-row file built at once would cost the service ~600 MB.
    """
    ids: list[int] = []
    for start in range(0, len(rows), IMPORT_CHUNK):
        ids += _import_chunk(session, rows[start : start + IMPORT_CHUNK], actor=actor)
        if progress is not None:
            progress(len(ids))
    return ids


IMPORT_CHUNK = 2_000


def _import_chunk(
    session: Session,
    rows: list[tuple[dict[str, Any], list[tuple[str, date]]]],
    *,
    actor: str,
) -> list[int]:
    now = utcnow()
    records = [_record(values, entries, now) for values, entries in rows]
    conn = session.connection()
    ids = allocate_ids(conn, PROJECT, len(records))
    for pid, rec in zip(ids, records, strict=True):
        rec["id"] = pid
    try:
        bulk_insert(conn, PROJECT, records)
    except (IntegrityError, psycopg.IntegrityError) as exc:  # codes taken meanwhile
        session.rollback()
        raise Conflict(MESSAGES("import.codes_meanwhile")) from exc
    stage_rows, placed, history_rows, registered = [], [], [], []
    for rec, (_, entries) in zip(records, rows, strict=True):
        pid = rec["id"]
        placed.append({"project_id": pid, **placing(entries)})
        stages = [{"stage": s, "on": d, "ordinal": i} for i, (s, d) in enumerate(entries)]
        stage_rows += [
            {"project_id": pid, "ordinal": i, "stage": s, "entered_on": d, "note": None}
            | {"actor": actor, "recorded_at": now}
            for i, (s, d) in enumerate(entries)
        ]
        fields = {k: rec[k] for k in (*EDITABLE, "stage", "created_on")}
        history_rows.append(
            history_row(
                entity="project",
                entity_id=pid,
                version=1,
                actor=actor,
                action="import",
                changes=diff({}, fields),
                at=now,
            )
        )
        event = events.ProjectRegistered(project=events.project_snapshot(rec, stages))
        registered.append(event.envelope(subject=pid, on=rec["created_on"]))
    bulk_insert(conn, STAGE, stage_rows)
    bulk_insert(conn, DATES, placed)
    bulk_insert(conn, history, history_rows)
    bulk_insert(conn, outbox, outbox_rows(registered, now))
    return ids


def stamp(moment: datetime | None = None) -> str:
    """A file-name stamp for exports (YYYYMMDD)."""
    return (moment or utcnow()).strftime("%Y%m%d")
