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
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, not_, or_, select
from sqlmodel import Session

from services.common.contracts.stages import (
    BATCH_LABELS,
    BATCHES,
    FINAL_STAGES,
    UNDER_WAY_STAGES,
)
from services.projects.service import PROJECT, STAGE

ACTIVE = UNDER_WAY_STAGES
FINAL = tuple(FINAL_STAGES)


def _history(entries: list[tuple[int, str, date]]) -> dict[str, Any]:
    """Dates that place a project in the batches, from its ordered stage entries."""
    started = active_from = active_to = built = None
    previous = None
    for ordinal, stage, on in entries:
        jumped = ordinal > 0 and previous == "reserve" and stage in ("building", "built")
        if started is None and (stage == "starting" or jumped):
            started = on
        if active_from is None and stage in ACTIVE:
            active_from = on
        if active_from is not None and active_to is None and stage in FINAL:
            active_to = on
        if stage == "built":
            built = on
        previous = stage
    return {"started": started, "active_from": active_from, "active_to": active_to, "built": built}


def _stage_on(entries: list[tuple[int, str, date]], day: date) -> str | None:
    stage = None
    for _, s, on in entries:
        if on <= day:
            stage = s
    return stage


def _in(day: date | None, start: date, end: date) -> bool:
    return day is not None and start <= day <= end


def _place(p: Any, entries: list[tuple[int, str, date]], start: date, end: date, as_of: date):
    """{batch: (planned_on | None, planned?, actual_on | None, actual?)} for one project."""
    h = _history(entries)
    cancelled_before = p.stage == "cancelled" and p.stage_on < start
    ps, pc = p.planned_start, p.planned_completion
    plan = not cancelled_before
    active = h["active_from"] is not None and h["active_from"] <= end
    active = active and (h["active_to"] is None or h["active_to"] >= start)
    reserve_entry = next((on for _, s, on in reversed(entries) if s == "reserve"), None)
    return {
        "built": (pc, plan and _in(pc, start, end), h["built"], _in(h["built"], start, end)),
        "building": (
            ps,
            plan and ps is not None and ps <= end and (pc is None or pc >= start),
            h["active_from"],
            active,
        ),
        "starting": (ps, plan and _in(ps, start, end), h["started"], _in(h["started"], start, end)),
        "reserve": (
            ps,
            plan and p.created_on <= end and (ps is None or ps > end),
            reserve_entry,
            _stage_on(entries, as_of) == "reserve",
        ),
    }


def _candidates(session: Session, start: date, end: date) -> tuple[list[Any], dict[int, list]]:
    """Projects that can be in one of the year's batches, and their ordered stage entries."""
    c = PROJECT.c
    relevant = or_(
        and_(c.created_on <= end, not_(and_(c.stage.in_(FINAL), c.stage_on < start))),
        c.planned_start.between(start, end),
        c.planned_completion.between(start, end),
    )
    columns = (c.id, c.name, c.category, c.stage, c.stage_on, c.sub_district, c.created_on)
    projects = session.execute(
        select(*columns, c.planned_start, c.planned_completion).where(relevant).order_by(c.id)
    ).all()
    entries: dict[int, list[tuple[int, str, date]]] = {p.id: [] for p in projects}
    rows = session.execute(
        select(STAGE.c.project_id, STAGE.c.ordinal, STAGE.c.stage, STAGE.c.entered_on)
        .where(STAGE.c.project_id.in_(select(c.id).where(relevant)))
        .order_by(STAGE.c.project_id, STAGE.c.ordinal)
    )
    for r in rows:
        entries[r.project_id].append((r.ordinal, r.stage, r.entered_on))
    return list(projects), entries


def year_view(session: Session, *, year: int, today: date) -> dict[str, Any]:
    """The four batches of `year`, each with planned and actual counts and the projects."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    as_of = min(end, today)
    projects, entries = _candidates(session, start, end)
    batches: dict[str, list[dict[str, Any]]] = {b: [] for b in BATCHES}
    for p in projects:
        placed = _place(p, entries[p.id], start, end, as_of)
        for batch, (planned_on, planned, actual_on, actual) in placed.items():
            if planned or actual:
                batches[batch].append(
                    {
                        "id": p.id,
                        "name": p.name,
                        "category": p.category,
                        "stage": p.stage,
                        "sub_district": p.sub_district,
                        "planned": planned,
                        "actual": actual,
                        "planned_on": planned_on if planned else None,
                        "actual_on": actual_on if actual else None,
                    }
                )
    return {
        "year": year,
        "as_of": as_of,
        "batches": [
            {
                "batch": b,
                "label": BATCH_LABELS[b],
                "planned": sum(x["planned"] for x in batches[b]),
                "actual": sum(x["actual"] for x in batches[b]),
                "planned_and_actual": sum(x["planned"] and x["actual"] for x in batches[b]),
                "projects": batches[b],
            }
            for b in BATCHES
        ],
    }
