"""HTTP routes for a project's milestones, monthly investment and blockers (难点堵点)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from services.common.auth import Principal, ProjectWriter, Reader
from services.common.paging import Page, Paging
from services.common.runtime import SessionDep
from services.common.unit_of_work import Write, WriteDep
from services.projects import execution
from services.projects.deps import ProjectDep, RowId, Today, WritableProject, clean_text
from services.projects.models import (
    Blocker,
    BlockerCreate,
    BlockerPublic,
    BlockerUpdate,
    InvestmentCreate,
    InvestmentPublic,
    InvestmentSummary,
    Milestone,
    MilestoneCreate,
    MilestonePublic,
    MilestoneUpdate,
    Project,
)

router = APIRouter(prefix="/api/v1", tags=["progress"])


def load_milestone(project: ProjectDep, milestone_id: RowId, session: SessionDep) -> Milestone:
    assert project.id is not None
    return execution.get_milestone(session, project.id, milestone_id)


def load_blocker(project: ProjectDep, blocker_id: RowId, session: SessionDep) -> Blocker:
    assert project.id is not None
    return execution.get_blocker(session, project.id, blocker_id)


MilestoneDep = Annotated[Milestone, Depends(load_milestone)]
BlockerDep = Annotated[Blocker, Depends(load_blocker)]


@dataclass(frozen=True)
class Rows:
    """What the add and change routes of one kind of a project's rows call."""

    add: Callable[..., Any]
    update: Callable[..., Any]
    public: Callable[[Any, date, Project], dict[str, Any]]


MILESTONES = Rows(
    execution.add_milestone,
    execution.update_milestone,
    lambda m, today, project: execution.milestone_public(m, today, project.stage),
)
BLOCKERS = Rows(
    execution.raise_blocker,
    execution.update_blocker,
    lambda b, today, project: execution.blocker_public(b, today, project.name, project.stage),
)


def add_row(
    rows: Rows, write: Write, project: Project, body: BaseModel, who: Principal, today: date
) -> dict[str, Any]:
    """A milestone or blocker added: the service's `add` → its answer → commit → ETag."""
    with write.unit() as session:
        data = body.model_dump()
        row = rows.add(session, project=project, data=data, actor=who.subject, today=today)
        out = rows.public(row, today, project)
    write.etag(row.version)
    return out


def change_row(
    rows: Rows,
    write: Write,
    project: Project,
    row: Milestone | Blocker,
    body: BaseModel,
    who: Principal,
    today: date,
) -> dict[str, Any]:
    """A milestone or blocker changed: If-Match against its version → the service's `update`
    → its answer → commit → ETag."""
    with write.unit(if_match=row.version) as session:
        changes = body.model_dump(exclude_unset=True)
        version = row.version
        rows.update(
            session, row, changes=changes, expected_version=version, actor=who.subject, today=today
        )
        out = rows.public(row, today, project)
    write.etag(row.version)
    return out


# ---- milestones --------------------------------------------------------------------------


@router.get("/projects/{project_id}/milestones", response_model=list[MilestonePublic])
def list_milestones(project: ProjectDep, session: SessionDep, today: Today) -> Any:
    assert project.id is not None
    return [
        execution.milestone_public(m, today, project.stage)
        for m in execution.milestones_of(session, project.id)
    ]


@router.post("/projects/{project_id}/milestones", status_code=201, response_model=MilestonePublic)
def add_milestone(
    body: MilestoneCreate,
    project: WritableProject,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
) -> Any:
    return add_row(MILESTONES, write, project, body, principal, today)


@router.patch(
    "/projects/{project_id}/milestones/{milestone_id}",
    response_model=MilestonePublic,
    summary="Change a milestone (e.g. mark it done); If-Match required",
)
def update_milestone(
    body: MilestoneUpdate,
    project: WritableProject,
    milestone: MilestoneDep,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
) -> Any:
    return change_row(MILESTONES, write, project, milestone, body, principal, today)


# ---- investment --------------------------------------------------------------------------


@router.get("/projects/{project_id}/investment", response_model=InvestmentSummary)
def read_investment(project: ProjectDep, session: SessionDep) -> Any:
    return execution.investment_summary(session, project)


@router.post(
    "/projects/{project_id}/investment",
    status_code=201,
    response_model=InvestmentPublic,
    summary="Report a month's completed investment; a month already reported is corrected only "
    "with If-Match (its version) or correction: true (409 otherwise, 412 if stale)",
    responses={
        409: {"description": "The month is already reported: correct it with If-Match"},
        412: {"description": "The month was corrected by someone else meanwhile"},
    },
)
def report_investment(
    request: Request,
    body: InvestmentCreate,
    project: WritableProject,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
) -> Any:
    with write.unit() as session:
        out = execution.report_investment(
            session,
            project=project,
            month=body.month,
            amount_wan=body.amount_wan,
            actor=principal.subject,
            today=today,
            if_match=execution.if_match_versions(request.headers.get("if-match")),
            correction=body.correction,
        )
    write.etag(out["version"])
    return out


# ---- blockers ----------------------------------------------------------------------------


@router.get("/projects/{project_id}/blockers", response_model=Page[BlockerPublic])
def project_blockers(
    project: ProjectDep,
    session: SessionDep,
    today: Today,
    page: Paging,
    open: Annotated[bool | None, Query(description="Only unresolved (true) or resolved")] = None,
    overdue: Annotated[bool | None, Query(description="Unresolved and past due")] = None,
) -> Any:
    items, total = execution.list_blockers(
        session,
        today=today,
        limit=page.limit,
        offset=page.offset,
        project_id=project.id,
        is_open=open,
        overdue=overdue,
    )
    return {"items": items, "total": total}


@router.post("/projects/{project_id}/blockers", status_code=201, response_model=BlockerPublic)
def raise_blocker(
    body: BlockerCreate,
    project: WritableProject,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
) -> Any:
    return add_row(BLOCKERS, write, project, body, principal, today)


@router.patch(
    "/projects/{project_id}/blockers/{blocker_id}",
    response_model=BlockerPublic,
    summary="Change or resolve (resolved_on + resolution) a blocker; If-Match required",
)
def update_blocker(
    body: BlockerUpdate,
    project: WritableProject,
    blocker: BlockerDep,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
) -> Any:
    return change_row(BLOCKERS, write, project, blocker, body, principal, today)


@router.get(
    "/blockers",
    response_model=Page[BlockerPublic],
    summary="Blockers across all projects, e.g. ?open=true or ?overdue=true",
)
def all_blockers(
    session: SessionDep,
    _: Reader,
    today: Today,
    page: Paging,
    open: Annotated[bool | None, Query(description="Only unresolved (true) or resolved")] = None,
    overdue: Annotated[bool | None, Query(description="Unresolved and past due")] = None,
    responsible_department: str | None = None,
) -> Any:
    items, total = execution.list_blockers(
        session,
        today=today,
        limit=page.limit,
        offset=page.offset,
        is_open=open,
        overdue=overdue,
        responsible_department=clean_text(responsible_department, "responsible_department"),
    )
    return {"items": items, "total": total}
