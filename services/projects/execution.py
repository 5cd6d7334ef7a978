"""How a project is getting on: milestones, monthly completed investment and blockers (难点堵点)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from services.common.contracts.stages import FINAL_STAGES
from services.common.envelope import utcnow
from services.common.errors import Conflict, Invalid, NotFound, PreconditionFailed
from services.common.history import diff, record_change
from services.common.i18n import Text, join, plain
from services.common.outbox import record
from services.projects import events
from services.projects.catalogue import MILESTONE_KIND_LABELS
from services.projects.labels import BLOCKER_KIND_LABELS, MESSAGES
from services.projects.models import (
    MILESTONE_FIELDS,
    Blocker,
    InvestmentReport,
    Milestone,
    Project,
    history,
    outbox,
)
from services.projects.service import PROJECT, guarded_update, work_ahead

MILESTONE = Milestone.__table__
BLOCKER = Blocker.__table__
INVESTMENT = InvestmentReport.__table__


def _invalid(problems: list[tuple[str, str | Text]]) -> None:
    if problems:
        raise Invalid(
            join([plain(f"{f}: ") + m for f, m in problems]),
            errors=[{"loc": [f], "msg": m} for f, m in problems],
        )


def _not_future(values: dict[str, Any], fields: tuple[str, ...], today: date) -> list:
    return [
        (f, MESSAGES("future", value=values[f], today=today))
        for f in fields
        if values.get(f) and values[f] > today
    ]


# ---- milestones --------------------------------------------------------------------------


def is_overdue(*, due_on: date | None, done_on: date | None, stage: str, today: date) -> bool:
    """Past due and not done, in a project with work still ahead: a built or cancelled
    project's open milestones are not late for anything."""
    return done_on is None and due_on is not None and due_on < today and stage not in FINAL_STAGES


def milestone_public(m: Milestone, today: date, stage: str) -> dict[str, Any]:
    """A milestone as the API answers it; `stage` is its project's."""
    return {
        **m.model_dump(),
        "kind_label": MILESTONE_KIND_LABELS.get(m.kind, m.kind),
        "overdue": is_overdue(due_on=m.due_on, done_on=m.done_on, stage=stage, today=today),
    }


def milestones_of(session: Session, project_id: int) -> list[Milestone]:
    stmt = select(Milestone).where(Milestone.project_id == project_id).order_by(Milestone.id)
    return list(session.execute(stmt).scalars())


def get_milestone(session: Session, project_id: int, milestone_id: int) -> Milestone:
    m = session.get(Milestone, milestone_id)
    if m is None or m.project_id != project_id:
        raise NotFound(
            MESSAGES("milestone.not_found", project=project_id, id=milestone_id),
            loc=["path", "milestone_id"],
        )
    return m


def _refresh_next_due(session: Session, project_id: int) -> None:
    """Keep the project's earliest open due date (what ?overdue= filters on) in step."""
    # Lock the project row first so concurrent milestone writes cannot leave a stale date.
    session.execute(select(PROJECT.c.id).where(PROJECT.c.id == project_id).with_for_update())
    earliest = (
        select(func.min(MILESTONE.c.due_on))
        .where(MILESTONE.c.project_id == project_id, MILESTONE.c.done_on.is_(None))
        .scalar_subquery()
    )
    session.execute(PROJECT.update().where(PROJECT.c.id == project_id).values(next_due_on=earliest))


def add_milestone(
    session: Session, *, project: Project, data: dict[str, Any], actor: str, today: date
) -> Milestone:
    """Add a milestone to the project; emits MilestoneAdded."""
    _invalid(_not_future(data, ("done_on",), today))
    now = utcnow()
    m = Milestone(**data, project_id=project.id, version=1, created_at=now, updated_at=now)
    session.add(m)
    session.flush()
    assert m.id is not None
    _refresh_next_due(session, m.project_id)
    fields = {k: getattr(m, k) for k in MILESTONE_FIELDS}
    record_change(
        session,
        history,
        entity="milestone",
        entity_id=m.id,
        version=1,
        actor=actor,
        action="create",
        changes=diff({}, fields),
    )
    event = events.MilestoneAdded(
        project_id=m.project_id, milestone=events.milestone_snapshot(m.model_dump())
    )
    record(session, outbox, event.envelope(subject=m.project_id, on=today))
    return m


def update_milestone(
    session: Session,
    milestone: Milestone,
    *,
    changes: dict[str, Any],
    expected_version: int,
    actor: str,
    today: date,
) -> Milestone:
    """Change a milestone at `expected_version` (412 if stale); emits MilestoneUpdated."""
    if "title" in changes and changes["title"] is None:
        _invalid([("title", MESSAGES("not_null"))])
    if "kind" in changes and changes["kind"] is None:
        changes["kind"] = "other"
    _invalid(_not_future(changes, ("done_on",), today))
    before = milestone.model_dump()
    delta = diff({k: before[k] for k in changes}, changes)
    if not delta:
        return milestone
    assert milestone.id is not None
    fields = {k: changes[k] for k in delta}
    guarded_update(session, MILESTONE, milestone.id, expected_version, fields, "milestone")
    session.refresh(milestone)
    _refresh_next_due(session, milestone.project_id)
    record_change(
        session,
        history,
        entity="milestone",
        entity_id=milestone.id,
        version=milestone.version,
        actor=actor,
        action="update",
        changes=delta,
    )
    event = events.MilestoneUpdated(
        project_id=milestone.project_id, milestone=events.milestone_snapshot(milestone.model_dump())
    )
    record(
        session, outbox, event.envelope(subject=milestone.project_id, on=milestone.done_on or today)
    )
    return milestone


# ---- investment --------------------------------------------------------------------------


def investment_summary(session: Session, project: Project) -> dict[str, Any]:
    rows = session.execute(
        select(INVESTMENT.c.month, INVESTMENT.c.amount_wan, INVESTMENT.c.version)
        .where(INVESTMENT.c.project_id == project.id)
        .order_by(INVESTMENT.c.month)
    ).all()
    total = project.total_investment_wan
    cumulative = project.completed_investment_wan
    return {
        "project_id": project.id,
        "cumulative_wan": cumulative,
        "total_investment_wan": total,
        "share": round(cumulative / total, 4) if total else None,
        "months": [dict(r._mapping) for r in rows],
    }


def _save_month(
    session: Session,
    project_id: int | None,
    month: str,
    amount_wan: float,
    actor: str,
    *,
    if_match: set[str] | None,
    correction: bool,
) -> tuple[int, int, dict[str, list[Any]], bool]:
    """Insert the month's report, or correct it when the caller names the version it corrects
    (`if_match`) or says it is a correction; returns id, version, changes, whether corrected."""
    existing = session.execute(
        select(INVESTMENT).where(INVESTMENT.c.project_id == project_id, INVESTMENT.c.month == month)
    ).first()
    now = utcnow()
    if existing is None:
        report_id = session.execute(
            INVESTMENT.insert()
            .values(project_id=project_id, month=month, amount_wan=amount_wan, version=1)
            .values(actor=actor, reported_at=now)
            .returning(INVESTMENT.c.id)
        ).scalar_one()
        return report_id, 1, diff({}, {"month": month, "amount_wan": amount_wan}), False
    amount = f"{existing.amount_wan:,.2f}".rstrip("0").rstrip(".")  # 12,000.5 as the pages show it
    facts = {"month": month, "amount": amount, "version": existing.version}
    if if_match is None and not correction:
        raise Conflict(
            MESSAGES("investment.reported", **facts),
            loc=["month"],
            extra={"current_version": existing.version, "amount_wan": existing.amount_wan},
        )
    if if_match is not None and "*" not in if_match and str(existing.version) not in if_match:
        raise PreconditionFailed(
            MESSAGES("investment.stale", **facts),
            loc=["header", "If-Match"],
            extra={"current_version": existing.version},
        )
    version = existing.version + 1
    session.execute(
        INVESTMENT.update()
        .where(INVESTMENT.c.id == existing.id)
        .values(amount_wan=amount_wan, version=version, actor=actor, reported_at=now)
    )
    changes = {"amount_wan": [existing.amount_wan, amount_wan]}
    return existing.id, version, changes, True


def if_match_versions(header: str | None) -> set[str] | None:
    """The versions an If-Match header names (`W/"3"` → "3"; `*` kept), None without one."""
    if not header:
        return None
    return {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}


def report_investment(
    session: Session,
    *,
    project: Project,
    month: str,
    amount_wan: float,
    actor: str,
    today: date,
    if_match: set[str] | None = None,
    correction: bool = False,
) -> dict[str, Any]:
    """Record a month's completed investment, or correct a month already reported (the caller
    names its version in `if_match`, or says `correction`); emits InvestmentReported.

    A correction is recorded in history as `correct`, with the amount before and after.
    """
    if month > today.isoformat()[:7]:
        _invalid([("month", MESSAGES("month.future", month=month, today=today))])
    # Lock the project row so concurrent reports add up instead of racing on the total.
    session.execute(select(PROJECT.c.id).where(PROJECT.c.id == project.id).with_for_update())
    report_id, version, changes, corrected = _save_month(
        session, project.id, month, amount_wan, actor, if_match=if_match, correction=correction
    )
    cumulative = session.execute(
        select(func.coalesce(func.sum(INVESTMENT.c.amount_wan), 0.0)).where(
            INVESTMENT.c.project_id == project.id
        )
    ).scalar_one()
    session.execute(
        PROJECT.update()
        .where(PROJECT.c.id == project.id)
        .values(completed_investment_wan=float(cumulative))
    )
    session.refresh(project)
    record_change(
        session,
        history,
        entity="investment",
        entity_id=report_id,
        version=version,
        actor=actor,
        action="correct" if corrected else "report",
        changes={"month": [month, month], **changes},
    )
    event = events.InvestmentReported(
        project_id=project.id, month=month, amount_wan=amount_wan, cumulative_wan=float(cumulative)
    )
    record(
        session, outbox, event.envelope(subject=project.id, on=date.fromisoformat(f"{month}-01"))
    )
    summary = investment_summary(session, project)
    return {**summary, "month": month, "amount_wan": amount_wan, "version": version}


# ---- blockers (难点堵点) -------------------------------------------------------------------


def blocker_public(
    b: Blocker | Any, today: date, project_name: str | None = None, stage: str | None = None
) -> dict:
    """A blocker as the API answers it; `stage` is its project's (a list row carries it)."""
    data = b.model_dump() if isinstance(b, Blocker) else dict(b._mapping)
    stage = data.pop("project_stage", None) or stage or ""
    overdue = is_overdue(
        due_on=data["due_on"], done_on=data["resolved_on"], stage=stage, today=today
    )
    return {
        **data,
        "project_name": project_name or data.get("project_name"),
        "kind_label": BLOCKER_KIND_LABELS.get(data["kind"], data["kind"]),
        "open": data["resolved_on"] is None,
        "overdue": overdue,
    }


def get_blocker(session: Session, project_id: int, blocker_id: int) -> Blocker:
    b = session.get(Blocker, blocker_id)
    if b is None or b.project_id != project_id:
        raise NotFound(
            MESSAGES("blocker.not_found", project=project_id, id=blocker_id),
            loc=["path", "blocker_id"],
        )
    return b


def _blocker_problems(values: dict[str, Any], today: date) -> list[tuple[str, Text]]:
    problems = _not_future(values, ("raised_on", "resolved_on"), today)
    raised = values.get("raised_on")
    for f in ("due_on", "resolved_on"):
        if raised and values.get(f) and values[f] < raised:
            problems.append((f, MESSAGES("blocker.before_raised", value=values[f], raised=raised)))
    if values.get("resolution") and not values.get("resolved_on"):
        problems.append(("resolved_on", MESSAGES("blocker.resolution_date")))
    return problems


def raise_blocker(
    session: Session, *, project: Project, data: dict[str, Any], actor: str, today: date
) -> Blocker:
    """Raise a problem holding the project up; emits BlockerRaised."""
    data = {**data, "raised_on": data.get("raised_on") or today}
    _invalid(_blocker_problems(data, today))
    now = utcnow()
    b = Blocker(**data, project_id=project.id, version=1, created_at=now, updated_at=now)
    session.add(b)
    session.flush()
    assert b.id is not None
    fields = {k: v for k, v in b.model_dump().items() if k in data}
    record_change(
        session,
        history,
        entity="blocker",
        entity_id=b.id,
        version=1,
        actor=actor,
        action="raise",
        changes=diff({}, fields),
    )
    event = events.BlockerRaised(
        project_id=b.project_id, blocker=events.blocker_snapshot(b.model_dump())
    )
    record(session, outbox, event.envelope(subject=b.project_id, on=b.raised_on))
    return b


def update_blocker(
    session: Session,
    blocker: Blocker,
    *,
    changes: dict[str, Any],
    expected_version: int,
    actor: str,
    today: date,
) -> Blocker:
    """Change or resolve a blocker at `expected_version`; emits BlockerUpdated/BlockerResolved."""
    for f in ("description", "kind"):
        if f in changes and changes[f] is None:
            _invalid([(f, MESSAGES("not_null"))])
    before = blocker.model_dump()
    _invalid(_blocker_problems({**before, **changes}, today))
    delta = diff({k: before[k] for k in changes}, changes)
    if not delta:
        return blocker
    assert blocker.id is not None
    fields = {k: changes[k] for k in delta}
    guarded_update(session, BLOCKER, blocker.id, expected_version, fields, "blocker")
    session.refresh(blocker)
    resolved = before["resolved_on"] is None and blocker.resolved_on is not None
    record_change(
        session,
        history,
        entity="blocker",
        entity_id=blocker.id,
        version=blocker.version,
        actor=actor,
        action="resolve" if resolved else "update",
        changes=delta,
    )
    kind = events.BlockerResolved if resolved else events.BlockerUpdated
    event = kind(
        project_id=blocker.project_id, blocker=events.blocker_snapshot(blocker.model_dump())
    )
    on = blocker.resolved_on if resolved and blocker.resolved_on else today
    record(session, outbox, event.envelope(subject=blocker.project_id, on=on))
    return blocker


def list_blockers(
    session: Session,
    *,
    today: date,
    limit: int,
    offset: int,
    project_id: int | None = None,
    is_open: bool | None = None,
    overdue: bool | None = None,
    responsible_department: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Blockers of one project or all, with their project's name, oldest due first."""
    conds: list[Any] = []
    if project_id is not None:
        conds.append(BLOCKER.c.project_id == project_id)
    if is_open is not None:
        conds.append(
            BLOCKER.c.resolved_on.is_(None) if is_open else BLOCKER.c.resolved_on.is_not(None)
        )
    if overdue is not None:
        ahead = work_ahead(PROJECT.c.stage)
        late = BLOCKER.c.resolved_on.is_(None) & (BLOCKER.c.due_on < today) & ahead
        conds.append(late if overdue else ~late | BLOCKER.c.due_on.is_(None))
    if responsible_department:
        conds.append(BLOCKER.c.responsible_department == responsible_department)
    with_project = BLOCKER.join(PROJECT, PROJECT.c.id == BLOCKER.c.project_id)
    total = session.execute(
        select(func.count()).select_from(with_project).where(*conds)
    ).scalar_one()
    rows = session.execute(
        select(
            BLOCKER, PROJECT.c.name.label("project_name"), PROJECT.c.stage.label("project_stage")
        )
        .select_from(with_project)
        .where(*conds)
        .order_by(BLOCKER.c.due_on.is_(None), BLOCKER.c.due_on, BLOCKER.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [blocker_public(r, today) for r in rows], total
