"""Projects: registration, validation, updates, the stage machine, search and history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.common.contracts.categories import CATEGORY_LABELS, PROJECT_CATEGORIES
from services.common.contracts.stages import FINAL_STAGES, STAGE_LABELS
from services.common.envelope import utcnow
from services.common.errors import Conflict, DomainError, Invalid, NotFound, PreconditionFailed
from services.common.history import diff, record_change
from services.common.i18n import Text, join, plain
from services.common.outbox import record
from services.projects import events, pipeline
from services.projects.codes import validate_project_code
from services.projects.labels import MESSAGES
from services.projects.models import (
    EDITABLE,
    Blocker,
    InvestmentReport,
    Milestone,
    Project,
    ProjectStage,
    history,
    outbox,
)
from services.projects.stages import check_transition

PROJECT = Project.__table__
STAGE = ProjectStage.__table__
SORTS = {
    "id": PROJECT.c.id,
    "-id": PROJECT.c.id.desc(),
    "name": PROJECT.c.name,
    "-name": PROJECT.c.name.desc(),
    "stage": PROJECT.c.stage,
    "-stage": PROJECT.c.stage.desc(),
    "sub_district": PROJECT.c.sub_district,
    "-sub_district": PROJECT.c.sub_district.desc(),
    "planned_start": PROJECT.c.planned_start,
    "-planned_start": PROJECT.c.planned_start.desc(),
    "planned_completion": PROJECT.c.planned_completion,
    "-planned_completion": PROJECT.c.planned_completion.desc(),
    "total_investment_wan": PROJECT.c.total_investment_wan,
    "-total_investment_wan": PROJECT.c.total_investment_wan.desc(),
    "completed_investment_wan": PROJECT.c.completed_investment_wan,
    "-completed_investment_wan": PROJECT.c.completed_investment_wan.desc(),
    "next_due_on": PROJECT.c.next_due_on,
    "-next_due_on": PROJECT.c.next_due_on.desc(),
}


# ---- validation ----------------------------------------------------------------------------


def field_problems(values: Mapping[str, Any], *, today: date) -> list[tuple[str, Text]]:
    """Every rule the plain types cannot say, as (field, reason); empty when all hold."""
    problems: list[tuple[str, str]] = []
    cat = values.get("category")
    if cat is not None and cat not in PROJECT_CATEGORIES:
        allowed = ", ".join(f"{k} ({v})" for k, v in CATEGORY_LABELS.items())
        allowed_zh = "、".join(CATEGORY_LABELS.values())
        msg = MESSAGES("category.unknown", value=cat, allowed=allowed, allowed_zh=allowed_zh)
        problems.append(("category", msg))
    if values.get("code"):
        try:
            validate_project_code(values["code"], today=today)
        except DomainError as exc:
            problems.append(("code", exc.detail))
    start, end = values.get("planned_start"), values.get("planned_completion")
    if start and end and end < start:
        problems.append(("planned_completion", MESSAGES("planned.order", start=start, end=end)))
    created = values.get("created_on")
    if created and created > today:
        problems.append(("created_on", MESSAGES("future", value=created, today=today)))
    return problems


def _normalise(values: dict[str, Any], *, today: date) -> dict[str, Any]:
    problems = field_problems(values, today=today)
    if problems:
        raise Invalid(
            join([plain(f"{f}: ") + m for f, m in problems]),
            errors=[{"loc": [f], "msg": m} for f, m in problems],
        )
    if values.get("code"):
        values["code"] = validate_project_code(values["code"], today=today)
    if values.get("quantity") is not None and not values.get("quantity_unit"):
        values["quantity_unit"] = PROJECT_CATEGORIES[values["category"]].unit
    return values


def _check_code_free(session: Session, code: str | None, *, own_id: int | None = None) -> None:
    if not code:
        return
    other = session.execute(select(PROJECT.c.id).where(PROJECT.c.code == code)).scalar()
    if other is not None and other != own_id:
        raise Conflict(
            MESSAGES("code.taken", code=code, id=other),
            loc=["code"],
            extra={"existing_id": other},
        )


# ---- reading -------------------------------------------------------------------------------


def get(session: Session, project_id: int) -> Project:
    """The project, or NotFound."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(MESSAGES("not_found", id=project_id), loc=["path", "project_id"])
    return project


def stages_of(session: Session, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each project's stage entries (stage, on, ordinal, note), oldest first."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return out
    rows = session.execute(
        select(STAGE.c.project_id, STAGE.c.stage, STAGE.c.entered_on, STAGE.c.ordinal, STAGE.c.note)
        .where(STAGE.c.project_id.in_(list(ids)))
        .order_by(STAGE.c.project_id, STAGE.c.ordinal)
    )
    for r in rows:
        out[r.project_id].append(
            {"stage": r.stage, "on": r.entered_on, "ordinal": r.ordinal, "note": r.note}
        )
    return out


def as_dict(project: Project | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(project, Project):
        return project.model_dump()
    return dict(project)


def to_public(project: Project | Mapping[str, Any], stages: list[dict[str, Any]]) -> dict:
    """The API shape of a project: its fields, labels, stage history and investment share."""
    p = as_dict(project)
    total = p.get("total_investment_wan")
    built = [s["on"] for s in stages if s["stage"] == "built"]
    return {
        **p,
        "category_label": CATEGORY_LABELS.get(p["category"], p["category"]),
        "stage_label": STAGE_LABELS.get(p["stage"], p["stage"]),
        "stages": stages,
        "built_on": built[-1] if built else None,
        "investment_share": (round(p["completed_investment_wan"] / total, 4) if total else None),
    }


def snapshot(session: Session, project: Project) -> dict[str, Any]:
    return events.project_snapshot(
        project.model_dump(), stages_of(session, [project.id])[project.id]
    )


def work_ahead(stage: Any) -> ColumnElement[bool]:
    """SQL: the project has work still ahead, so something of it can be late; a built or
    cancelled project has nothing left to be late for (execution.is_overdue, in Python)."""
    return stage.not_in(sorted(FINAL_STAGES))


def conditions(
    *,
    today: date,
    stage: str | None = None,
    category: str | None = None,
    sub_district: str | None = None,
    level: str | None = None,
    lead_department: str | None = None,
    q: str | None = None,
    overdue: bool | None = None,
) -> list[Any]:
    """The WHERE clauses of the list filters, shared by the list and the exports."""
    conds: list[Any] = []
    for col, value in (
        (PROJECT.c.stage, stage),
        (PROJECT.c.category, category),
        (PROJECT.c.sub_district, sub_district),
        (PROJECT.c.level, level),
        (PROJECT.c.lead_department, lead_department),
    ):
        if value is not None:
            conds.append(col == value)
    if q and q.strip():
        # autoescape: a % or _ in the search is that character, not a wildcard
        needle = q.strip()
        conds.append(
            or_(
                PROJECT.c.name.icontains(needle, autoescape=True),
                PROJECT.c.code.icontains(needle, autoescape=True),
            )
        )
    if overdue is not None:
        ahead = work_ahead(PROJECT.c.stage)
        late = and_(PROJECT.c.next_due_on < today, ahead)
        on_time = or_(PROJECT.c.next_due_on.is_(None), PROJECT.c.next_due_on >= today, ~ahead)
        conds.append(late if overdue else on_time)
    return conds


def search(
    session: Session, *, conds: list[Any], limit: int, offset: int, sort: str = "id"
) -> tuple[list[dict[str, Any]], int]:
    """A page of projects matching `conds`, and how many match in all."""
    total = session.execute(select(func.count()).select_from(PROJECT).where(*conds)).scalar_one()
    order = [SORTS[sort]] + ([] if sort in ("id", "-id") else [PROJECT.c.id])
    rows = session.execute(
        select(PROJECT).where(*conds).order_by(*order).limit(limit).offset(offset)
    ).all()
    stages = stages_of(session, [r.id for r in rows])
    return [to_public(r._mapping, stages[r.id]) for r in rows], total


def read_history(
    session: Session, project_id: int, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Every change to the project and its milestones, blockers and investment, oldest first."""
    h = history.c
    children = (
        ("milestone", Milestone.__table__),
        ("blocker", Blocker.__table__),
        ("investment", InvestmentReport.__table__),
    )
    cond = or_(
        (h.entity == "project") & (h.entity_id == project_id),
        *(
            (h.entity == name) & h.entity_id.in_(select(t.c.id).where(t.c.project_id == project_id))
            for name, t in children
        ),
    )
    total = session.execute(select(func.count()).select_from(history).where(cond)).scalar_one()
    rows = session.execute(
        select(history).where(cond).order_by(h.id).limit(limit).offset(offset)
    ).all()
    return [dict(r._mapping) for r in rows], total


# ---- writing -------------------------------------------------------------------------------


def create(session: Session, *, data: dict[str, Any], actor: str, today: date) -> Project:
    """Register a project in its first stage (default reserve) and emit ProjectRegistered."""
    values = _normalise(dict(data), today=today)
    values["created_on"] = values.get("created_on") or today
    values.setdefault("stage", "reserve")
    _check_code_free(session, values.get("code"))
    now = utcnow()
    project = Project(
        **values, stage_on=values["created_on"], version=1, created_at=now, updated_at=now
    )
    session.add(project)
    _flush(session)
    assert project.id is not None
    _enter_stage(session, project.id, 0, project.stage, project.created_on, None, actor)
    fields = {k: v for k, v in project.model_dump().items() if k in (*EDITABLE, "stage")}
    record_change(
        session,
        history,
        entity="project",
        entity_id=project.id,
        version=1,
        actor=actor,
        action="create",
        changes=diff({}, {**fields, "created_on": project.created_on}),
    )
    snap = snapshot(session, project)
    event = events.ProjectRegistered(project=snap)
    record(session, outbox, event.envelope(subject=project.id, on=project.created_on))
    return project


def _enter_stage(
    session: Session,
    project_id: int,
    ordinal: int,
    stage: str,
    on: date,
    note: str | None,
    actor: str,
) -> None:
    """Record that the project entered `stage` on `on` (ordinal 0: the stage it began in)."""
    session.add(
        ProjectStage(
            project_id=project_id,
            ordinal=ordinal,
            stage=stage,
            entered_on=on,
            note=note,
            actor=actor,
            recorded_at=utcnow(),
        )
    )
    session.flush()
    pipeline.keep_dates(session, [project_id])


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # Two writers claimed the same national code at once: the loser hears who won.
        session.rollback()
        raise Conflict(MESSAGES("code.registered"), loc=["code"]) from exc


def guarded_update(
    session: Session, table: Any, row_id: int, expected: int, values: dict[str, Any], what: str
) -> None:
    """Write `values` and version+1 only if the row is still at `expected`, else 412.

    The check and the increment are one UPDATE, so of two writers holding the same version
    exactly one matches the row; the other sees no row and is told to read again.
    """
    try:
        result = session.execute(
            update(table)
            .where(table.c.id == row_id, table.c.version == expected)
            .values(**values, version=table.c.version + 1, updated_at=utcnow())
        )
    except IntegrityError as exc:  # a unique value (the code) taken by a concurrent writer
        session.rollback()
        raise Conflict(MESSAGES("code.registered_meanwhile")) from exc
    if result.rowcount != 1:
        session.rollback()
        what_zh = {"project": "项目", "milestone": "里程碑", "blocker": "难点堵点"}.get(what, what)
        raise PreconditionFailed(
            MESSAGES("changed_meanwhile", what=what, what_zh=what_zh, id=row_id),
            loc=["header", "If-Match"],
        )


def bump(session: Session, project: Project, expected: int, values: dict[str, Any]) -> None:
    """Write `values` to the project at version `expected` (else 412) and reload it."""
    assert project.id is not None
    guarded_update(session, PROJECT, project.id, expected, values, "project")
    session.refresh(project)


def update_project(
    session: Session,
    *,
    project: Project,
    changes: dict[str, Any],
    expected_version: int,
    actor: str,
    today: date,
) -> Project:
    """Apply a partial update at `expected_version`; records history and ProjectUpdated."""
    nulls = [k for k in ("name", "category") if k in changes and changes[k] is None]
    if nulls:
        raise Invalid(
            MESSAGES("cannot_empty", fields=", ".join(nulls)),
            errors=[{"loc": [k], "msg": MESSAGES("not_null")} for k in nulls],
        )
    before = project.model_dump()
    merged = _normalise({**before, **changes}, today=today)
    after = {k: merged[k] for k in changes}
    delta = diff({k: before[k] for k in changes}, after)
    if not delta:
        return project
    if "code" in delta:
        _check_code_free(session, after.get("code"), own_id=project.id)
    bump(session, project, expected_version, {k: after[k] for k in delta})
    record_change(
        session,
        history,
        entity="project",
        entity_id=project.id,
        version=project.version,
        actor=actor,
        action="update",
        changes=delta,
    )
    event = events.ProjectUpdated(project=snapshot(session, project), changes=delta)
    record(session, outbox, event.envelope(subject=project.id, on=today))
    _flush(session)
    return project


def check_move(project: Project, *, to: str, on: date | None, today: date) -> None:
    """Raise `IllegalTransition` unless the project may move to `to` on `on` (nothing written)."""
    check_transition(
        project.stage, to, on or today, last_transition_on=project.stage_on, today=today
    )


def transition(
    session: Session,
    *,
    project: Project,
    to: str,
    on: date | None,
    note: str | None,
    actor: str,
    today: date,
) -> Project:
    """Move the project along the stage machine; illegal moves raise before anything is written."""
    on = on or today
    check_transition(project.stage, to, on, last_transition_on=project.stage_on, today=today)
    read_version = project.version
    before_stage, before_on = project.stage, project.stage_on
    ordinal = session.execute(
        select(func.max(STAGE.c.ordinal)).where(STAGE.c.project_id == project.id)
    ).scalar_one()
    ordinal = (ordinal or 0) + 1
    bump(session, project, read_version, {"stage": to, "stage_on": on})
    _enter_stage(session, project.id, ordinal, to, on, note, actor)
    record_change(
        session,
        history,
        entity="project",
        entity_id=project.id,
        version=project.version,
        actor=actor,
        action="transition",
        changes={"stage": [before_stage, to], "stage_on": [before_on, on], "note": [None, note]},
    )
    event = events.ProjectStageChanged(
        project=snapshot(session, project), from_=before_stage, to=to, ordinal=ordinal, note=note
    )
    record(session, outbox, event.envelope(subject=project.id, on=on))
    return project
