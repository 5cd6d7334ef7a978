"""What the workbench pages read besides the plain API: the ledger's extra columns and the words.

The ledger page shows each project's next milestone and its open blockers beside the fields
of the plain list; they are read for the page's rows only (two indexed queries), never for
the whole table. The vocabulary is every code the pages offer in a list, with its Chinese
label, and the stage machine's moves, so a page neither hard-codes nor re-implements them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlmodel import Session

from services.common.contracts.calendar import plan_year
from services.common.contracts.categories import PROJECT_CATEGORIES
from services.common.contracts.stages import BATCH_LABELS, STAGE_LABELS, STAGE_ORDER
from services.projects import pipeline
from services.projects.catalogue import LEVEL_LABELS, MILESTONE_KIND_LABELS, sub_districts
from services.projects.execution import is_overdue
from services.projects.labels import BLOCKER_KIND_LABELS, LEDGER_HEADERS
from services.projects.models import Blocker, Milestone
from services.projects.service import PROJECT
from services.projects.stages import allowed_targets

MILESTONE = Milestone.__table__
BLOCKER = Blocker.__table__


def open_blockers_condition(has_open: bool) -> Any:
    """Projects with (True) or without (False) an unresolved blocker."""
    found = exists().where(BLOCKER.c.project_id == PROJECT.c.id, BLOCKER.c.resolved_on.is_(None))
    return found if has_open else ~found


def batch_condition(session: Session, *, batch: str, year: int, today: date) -> Any:
    """Projects in `batch` of `year`'s four batches, planned or actual (the pipeline's rule)."""
    view = pipeline.year_view(session, year=year, today=today)
    ids = next([p["id"] for p in b["projects"]] for b in view["batches"] if b["batch"] == batch)
    return PROJECT.c.id.in_(ids)


def ledger_columns(
    session: Session, ids: Sequence[int], *, today: date
) -> dict[int, dict[str, Any]]:
    """For each project: its next open milestone (earliest due) and its open blockers."""
    out: dict[int, dict[str, Any]] = {i: {"next_milestone": None, "open_blockers": 0} for i in ids}
    if not ids:
        return out
    m = MILESTONE.c
    # The project keeps its earliest open due date (next_due_on): the next milestone is the
    # open one due then, found by a join instead of a grouped subquery.
    rows = session.execute(
        select(m.project_id, m.id, m.title, m.kind, m.due_on, PROJECT.c.stage)
        .join(PROJECT, and_(PROJECT.c.id == m.project_id, PROJECT.c.next_due_on == m.due_on))
        .where(m.project_id.in_(list(ids)), m.done_on.is_(None))
        .order_by(m.project_id, m.id)
    )
    for r in rows:
        if out[r.project_id]["next_milestone"] is None:
            out[r.project_id]["next_milestone"] = {
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "due_on": r.due_on,
                "overdue": is_overdue(due_on=r.due_on, done_on=None, stage=r.stage, today=today),
            }
    b = BLOCKER.c
    counts = session.execute(
        select(b.project_id, func.count())
        .where(b.project_id.in_(list(ids)), b.resolved_on.is_(None))
        .group_by(b.project_id)
    )
    for project_id, n in counts:
        out[project_id]["open_blockers"] = n
    return out


def vocabulary(*, today: date, configured_sub_districts: Sequence[str] | None = None) -> dict:
    """Every list a page offers, code → Chinese label, and the moves of the stage machine."""

    def pairs(labels: dict[str, str]) -> list[dict[str, str]]:
        return [{"key": k, "label": v} for k, v in labels.items()]

    return {
        "today": today,
        "plan_year": plan_year(today),  # the year a page opens on
        "stages": pairs(STAGE_LABELS),
        "stage_order": list(STAGE_ORDER),
        "moves": {stage: list(allowed_targets(stage)) for stage in STAGE_LABELS},
        "categories": [
            {"key": k, "label": c.label, "unit": c.unit} for k, c in PROJECT_CATEGORIES.items()
        ],
        "levels": pairs(LEVEL_LABELS),
        "milestone_kinds": pairs(MILESTONE_KIND_LABELS),
        "blocker_kinds": pairs(BLOCKER_KIND_LABELS),
        "batches": pairs(BATCH_LABELS),
        "sub_districts": list(sub_districts(configured_sub_districts)),
        "ledger_headers": LEDGER_HEADERS,
    }
