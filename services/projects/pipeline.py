"""The year view of article 32: 建成一批、在建一批、开工一批、储备一批, planned against actual.

Planned comes from the projects' planned dates; actual from their stage history:
- built (建成一批): planned completion in the year / entered `built` in the year.
- building (在建一批): planned to be under way at some time in the year (planned start by the
  year's end and planned completion not before its start) / in `starting` or `building` at some
  time in the year.
- starting (开工一批): planned start in the year / started in the year: entered `starting`,
  or jumped from reserve straight to `building` or `built`.
- reserve (储备一批): known by the year's end and not planned to start within it / still in
  `reserve` at the year's end (or today, for the current year).
A project cancelled before the year began is in none of the year's planned batches.

Each project's dates that decide this (`stage_dates`) are derived from its stage entries in
Python (`placing`) whenever an entry is written, so a year's counts are one scan of the
projects joined to those dates, whatever the size of the stage history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, not_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from services.common.contracts.stages import (
    BATCH_LABELS,
    BATCHES,
    FINAL_STAGES,
    UNDER_WAY_STAGES,
)
from services.projects.models import Project, ProjectStage, StageDates

PROJECT = Project.__table__
STAGE = ProjectStage.__table__
DATES = StageDates.__table__
ACTIVE = UNDER_WAY_STAGES
FINAL = tuple(FINAL_STAGES)


def placing(entries: Sequence[tuple[str, date]]) -> dict[str, date | None]:
    """The dates that place a project in the batches, from its stage entries in order."""
    started = active_from = active_to = built = reserve_from = reserve_until = None
    previous = None
    for ordinal, (stage, on) in enumerate(entries):
        jumped = ordinal > 0 and previous == "reserve" and stage in ("building", "built")
        if started is None and (stage == "starting" or jumped):
            started = on
        if active_from is None and stage in ACTIVE:
            active_from = on
        if active_from is not None and active_to is None and stage in FINAL:
            active_to = on
        if stage == "built":
            built = on
        if stage == "reserve":
            reserve_from, reserve_until = on, None
        elif previous == "reserve":
            reserve_until = on
        previous = stage
    return {
        "started_on": started,
        "active_from": active_from,
        "active_to": active_to,
        "built_on": built,
        "reserve_from": reserve_from,
        "reserve_until": reserve_until,
    }


def keep_dates(conn: Session | Connection, project_ids: Sequence[int]) -> None:
    """Derive the projects' `stage_dates` again from their stage entries (after a new entry)."""
    if not project_ids:
        return
    entries: dict[int, list[tuple[str, date]]] = {pid: [] for pid in project_ids}
    rows = conn.execute(
        select(STAGE.c.project_id, STAGE.c.stage, STAGE.c.entered_on)
        .where(STAGE.c.project_id.in_(list(project_ids)))
        .order_by(STAGE.c.project_id, STAGE.c.ordinal)
    )
    for r in rows:
        entries[r.project_id].append((r.stage, r.entered_on))
    conn.execute(delete(DATES).where(DATES.c.project_id.in_(list(project_ids))))
    conn.execute(insert(DATES), [{"project_id": p, **placing(e)} for p, e in entries.items()])


def _within(day: ColumnElement[Any], start: date, end: date) -> ColumnElement[bool]:
    return and_(day.is_not(None), day >= start, day <= end)


def _rule(start: date, end: date, as_of: date) -> dict[str, tuple[Any, Any, Any, Any]]:
    """For each batch: (planned by the dates?, the planned date, actual?, the actual date), as
    SQL; a project cancelled before the year is planned in none (`_cancelled_before`)."""
    c, h = PROJECT.c, DATES.c
    ps, pc = c.planned_start, c.planned_completion
    return {
        "built": (_within(pc, start, end), pc, _within(h.built_on, start, end), h.built_on),
        "building": (
            and_(ps.is_not(None), ps <= end, or_(pc.is_(None), pc >= start)),
            ps,
            and_(
                h.active_from.is_not(None),
                h.active_from <= end,
                or_(h.active_to.is_(None), h.active_to >= start),
            ),
            h.active_from,
        ),
        "starting": (_within(ps, start, end), ps, _within(h.started_on, start, end), h.started_on),
        "reserve": (
            and_(c.created_on <= end, or_(ps.is_(None), ps > end)),
            ps,
            and_(
                h.reserve_from.is_not(None),
                h.reserve_from <= as_of,
                or_(h.reserve_until.is_(None), h.reserve_until > as_of),
            ),
            h.reserve_from,
        ),
    }


def _cancelled_before(start: date) -> ColumnElement[bool]:
    return and_(PROJECT.c.stage == "cancelled", PROJECT.c.stage_on < start)


def _relevant(start: date, end: date) -> ColumnElement[bool]:
    """The projects that can be in one of the year's batches."""
    c = PROJECT.c
    return or_(
        and_(c.created_on <= end, not_(and_(c.stage.in_(FINAL), c.stage_on < start))),
        c.planned_start.between(start, end),
        c.planned_completion.between(start, end),
    )


JOINED = PROJECT.outerjoin(DATES, DATES.c.project_id == PROJECT.c.id)


def year_view(session: Session, *, year: int, today: date, projects: bool = True) -> dict[str, Any]:
    """The four batches of `year`, each with planned and actual counts and (unless `projects`
    is false) the projects in it, in id order."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    as_of = min(end, today)
    rule = _rule(start, end, as_of)
    totals = _counts(session, rule, start, end)
    members = _members(session, rule, start, end) if projects else {b: [] for b in BATCHES}
    return {
        "year": year,
        "as_of": as_of,
        "batches": [
            {"batch": b, "label": BATCH_LABELS[b], **totals[b], "projects": members[b]}
            for b in BATCHES
        ],
    }


def _counts(
    session: Session, rule: dict[str, tuple[Any, Any, Any, Any]], start: date, end: date
) -> dict[str, dict[str, int]]:
    """Planned, actual and both, per batch, in one pass: each project's conditions make a bit
    mask, the projects are counted by mask, and the few masks are added up here."""
    conditions = [_relevant(start, end), _cancelled_before(start)]
    for planned, _, actual, _ in rule.values():
        conditions += [planned, actual]
    mask = sum((case((cond, 1 << i), else_=0) for i, cond in enumerate(conditions)), literal(0))
    grouped = select(mask.label("mask"), func.count().label("n")).select_from(JOINED)
    totals = {b: {"planned": 0, "actual": 0, "planned_and_actual": 0} for b in BATCHES}
    for bits, n in session.execute(grouped.group_by(mask)):
        if not bits & 1:  # not relevant to the year
            continue
        plan = not bits & 2
        for i, b in enumerate(BATCHES):
            planned, actual = plan and bool(bits & (4 << 2 * i)), bool(bits & (8 << 2 * i))
            totals[b]["planned"] += n * planned
            totals[b]["actual"] += n * actual
            totals[b]["planned_and_actual"] += n * (planned and actual)
    return totals


def _members(
    session: Session, rule: dict[str, tuple[Any, Any, Any, Any]], start: date, end: date
) -> dict[str, list[dict[str, Any]]]:
    """The projects in each batch, planned or actual, with the dates that put them there."""
    c = PROJECT.c
    plan = not_(_cancelled_before(start))
    columns, anywhere = [], []
    for batch, (planned, planned_on, actual, actual_on) in rule.items():
        columns += [
            case((and_(plan, planned), 1), else_=0).label(f"{batch}_planned"),
            case((actual, 1), else_=0).label(f"{batch}_actual"),
            planned_on.label(f"{batch}_planned_on"),
            actual_on.label(f"{batch}_actual_on"),
        ]
        anywhere += [and_(plan, planned), actual]
    rows = session.execute(
        select(c.id, c.name, c.category, c.stage, c.sub_district, *columns)
        .select_from(JOINED)
        .where(_relevant(start, end), or_(*anywhere))
        .order_by(c.id)
    ).mappings()
    members: dict[str, list[dict[str, Any]]] = {b: [] for b in BATCHES}
    for r in rows:
        for b in BATCHES:
            planned, actual = bool(r[f"{b}_planned"]), bool(r[f"{b}_actual"])
            if planned or actual:
                members[b].append(
                    {
                        "id": r["id"],
                        "name": r["name"],
                        "category": r["category"],
                        "stage": r["stage"],
                        "sub_district": r["sub_district"],
                        "planned": planned,
                        "actual": actual,
                        "planned_on": r[f"{b}_planned_on"] if planned else None,
                        "actual_on": r[f"{b}_actual_on"] if actual else None,
                    }
                )
    return members
