"""HTTP routes of the projects service: ledger, transitions, history, import/export, pipeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import false
from sqlmodel import Session

from services.common import jobs
from services.common.auth import ProjectWriter, Reader
from services.common.contracts.calendar import plan_year
from services.common.contracts.categories import CATEGORY_LABELS
from services.common.contracts.stages import BATCHES, STAGE_LABELS, STAGES
from services.common.errors import Invalid, NotFound, request_language
from services.common.i18n import Text, code_of, localise
from services.common.jobs import JOB_DESCRIPTION, ImportJob
from services.common.labels import MESSAGES as COMMON
from services.common.paging import Page, Paging
from services.common.runtime import (
    SessionDep,
    require_if_match,
    set_etag,
)
from services.common.spreadsheet import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    content_disposition,
)
from services.common.unit_of_work import WriteDep
from services.projects import importer, ledger, pipeline, service, workbench
from services.projects.catalogue import LEVEL_LABELS
from services.projects.deps import ProjectDep, Today, WritableProject, clean_text
from services.projects.execution import (
    investment_summary,
    list_blockers,
    milestone_public,
    milestones_of,
)
from services.projects.labels import LEDGER_FILE_NAME, MESSAGES
from services.projects.models import (
    HistoryEntry,
    Pipeline,
    Project,
    ProjectCreate,
    ProjectDetail,
    ProjectPublic,
    ProjectUpdate,
    TransitionCreate,
)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PUBLIC_FIELDS = tuple(ProjectPublic.model_fields)
# Timestamps are stored in UTC; SQLite returns them without a zone.
JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z

router = APIRouter(prefix="/api/v1", tags=["projects"])


def public(session: Session, project: Project, response: Response | None = None) -> dict:
    if response is not None:
        set_etag(response, project.version)
    assert project.id is not None
    return service.to_public(project, service.stages_of(session, [project.id])[project.id])


class Filters:
    """The list filters as WHERE clauses, shared by the list, the ledger and the exports."""

    def __init__(
        self, conds: list[Any], *, batch: str | None = None, year: int = 0, today: date
    ) -> None:
        self._conds = conds
        self.batch, self.year, self.today = batch, year, today

    def conds(self, session: Session) -> list[Any]:
        """The clauses; a year's batch is the pipeline's rule, so it is read from the database."""
        if self.batch is None:
            return self._conds
        year = self.year or plan_year(self.today)
        cond = workbench.batch_condition(session, batch=self.batch, year=year, today=self.today)
        return [*self._conds, cond]


async def list_filters(
    today: Today,
    stage: Annotated[str | None, Query(description=f"One of {', '.join(STAGES)}")] = None,
    category: Annotated[str | None, Query(description="A catalogue category key")] = None,
    sub_district: str | None = None,
    level: Annotated[str | None, Query(description="province, city or district (省级…)")] = None,
    lead_department: str | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Name or code contains")] = None,
    overdue: Annotated[
        bool | None, Query(description="Has a milestone past due and not done")
    ] = None,
    has_open_blockers: Annotated[
        bool | None, Query(description="Has (true) or has no (false) unresolved blocker")
    ] = None,
    batch: Annotated[
        Literal[tuple(BATCHES)] | None,  # type: ignore[valid-type]
        Query(description="In this batch of the year's four batches (planned or actual)"),
    ] = None,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="The batch's year (default: the plan year)")
    ] = None,
) -> Filters:
    # the Chinese labels the API returns (在建, 学校, 区级) are accepted as the codes
    stage = code_of(stage, STAGE_LABELS)
    category = code_of(category, CATEGORY_LABELS)
    level = code_of(level, LEVEL_LABELS)
    if stage is not None and stage not in STAGES:
        allowed = "、".join(STAGE_LABELS.values()) + " / " + ", ".join(STAGES)
        raise Invalid(
            MESSAGES("stage.unknown", stage=stage, allowed=allowed), loc=["query", "stage"]
        )
    if category is not None and category not in CATEGORY_LABELS:
        msg = MESSAGES(
            "category.unknown",
            value=category,
            allowed=", ".join(CATEGORY_LABELS),
            allowed_zh="、".join(CATEGORY_LABELS.values()),
        )
        raise Invalid(msg, loc=["query", "category"])
    if level is not None and level not in LEVEL_LABELS:
        raise Invalid(
            Text(
                f"未知的项目级别“{level}”；可选：{'、'.join(LEVEL_LABELS.values())}",
                f"unknown level {level!r}; use one of {', '.join(LEVEL_LABELS)}",
            ),
            loc=["query", "level"],
        )
    conds = service.conditions(
        today=today,
        stage=stage,
        category=category,
        sub_district=clean_text(sub_district, "sub_district"),
        level=level,
        lead_department=clean_text(lead_department, "lead_department"),
        q=clean_text(q, "q"),
        overdue=overdue,
    )
    if has_open_blockers is not None:
        conds.append(workbench.open_blockers_condition(has_open_blockers))
    return Filters(conds, batch=batch, year=year or 0, today=today)


FiltersDep = Annotated[Filters, Depends(list_filters)]


@router.post("/projects", status_code=201, response_model=ProjectPublic, summary="Register")
def create_project(
    body: ProjectCreate,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
    response: Response,
) -> Any:
    principal.check_scope(body.sub_district)
    with write.unit() as session:
        project = service.create(
            session, data=body.model_dump(), actor=principal.subject, today=today
        )
        out = public(session, project, response)
    response.headers["Location"] = f"/api/v1/projects/{project.id}"
    return out


@router.get("/projects", response_model=Page[ProjectPublic], summary="Search the ledger")
def list_projects(
    session: SessionDep,
    _: Reader,
    page: Paging,
    filters: FiltersDep,
    sort: Literal[tuple(service.SORTS)] = "id",  # type: ignore[valid-type]
) -> Any:
    items, total = service.search(
        session, conds=filters.conds(session), limit=page.limit, offset=page.offset, sort=sort
    )
    # The hot path of dashboards: the rows already have the public shape, so they are written
    # straight to JSON instead of being validated again into models (a third of the time).
    body = {"items": [{k: item[k] for k in PUBLIC_FIELDS} for item in items], "total": total}
    return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")


@router.get(
    "/projects/export",
    summary="The ledger as xlsx or csv (Chinese headers), or an OC4IDS 0.9 package",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}, "text/csv": {}, "application/json": {}}}},
)
def export_projects(
    request: Request,
    session: SessionDep,
    _: Reader,
    today: Today,
    filters: FiltersDep,
    format: Literal["xlsx", "csv", "oc4ids"] = "xlsx",
    template: Annotated[
        bool, Query(description="The import template: the ledger's columns, no projects")
    ] = False,
) -> Response:
    if format == "oc4ids":
        package = ledger.export_oc4ids(
            session, filters.conds(session), uri=str(request.url), today=today
        )
        if package is None:
            raise NotFound(MESSAGES("oc4ids.empty"))
        return JSONResponse(package)
    conds = [false()] if template else filters.conds(session)
    content = ledger.export_sheet(session, conds, format)
    name = f"{LEDGER_FILE_NAME}-{ledger.stamp()}.{format}"
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE if format == "xlsx" else CSV_MEDIA_TYPE,
        headers={"Content-Disposition": content_disposition(name)},
    )


@router.get(
    "/projects/ledger",
    summary="The ledger page: the list's filters, sort and paging, plus each project's next "
    "milestone and open blockers",
)
def ledger_page(
    session: SessionDep,
    _: Reader,
    page: Paging,
    filters: FiltersDep,
    today: Today,
    sort: Literal[tuple(service.SORTS)] = "id",  # type: ignore[valid-type]
) -> Response:
    items, total = service.search(
        session, conds=filters.conds(session), limit=page.limit, offset=page.offset, sort=sort
    )
    extra = workbench.ledger_columns(session, [item["id"] for item in items], today=today)
    rows = [{**{k: item[k] for k in PUBLIC_FIELDS}, **extra[item["id"]]} for item in items]
    body = {"items": rows, "total": total}
    return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")


@router.get(
    "/projects/vocabulary",
    summary="The words of the pages: categories, stages and their moves, levels, kinds, "
    "sub-districts, each code with its Chinese label; and the business date",
)
def project_vocabulary(_: Reader, today: Today) -> Any:
    return workbench.vocabulary(today=today)


@router.post(
    "/projects/import",
    status_code=201,
    summary="Import a ledger (.xlsx or .csv, as exported); all or nothing; ?dry_run=true plans",
    description="A row with the export's id and version updates that project (stage changes "
    "through the stage machine), an unchanged row changes nothing, a row without an id is a "
    "new project unless it matches a registered one (code, or name + sub-district + category). "
    "The workbook's 里程碑 and 难点堵点 sheets are imported the same way. The answer counts "
    "`created`, `updated` and `unchanged` rows and lists the `plan`; a dry run (200) answers "
    "the same plan, with every error, and writes nothing.",
    responses={
        202: {
            "description": "A file of more rows than `PLANTRACK_IMPORT_JOB_MIN_ROWS` (2,000) "
            "runs on as a job: `Location: /api/v1/jobs/{id}`, body `id`, `status`, "
            "`rows_done`, `rows_total`. The job's `result` is this answer's body.",
            "model": ImportJob,
        },
        422: {"description": "Nothing imported; `errors` names every bad row and column"},
    },
)
def import_projects(
    request: Request,
    response: Response,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
    file: Annotated[UploadFile, File(description="The ledger, .xlsx or .csv (UTF-8)")],
    dry_run: Annotated[bool, Query(description="Answer the plan; write nothing")] = False,
) -> dict[str, Any]:
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise Invalid(COMMON("file_over_mb", mb=MAX_UPLOAD_BYTES >> 20), loc=["file"])
    filename = file.filename or ""
    workbook = importer.read_workbook(content, filename)  # the safe read, in a worker process
    language = request_language(request)
    rows = importer.workbook_rows(workbook)

    def run(progress: Callable[[int], None], session: Session) -> tuple[int, dict[str, Any]]:
        # A dry run rolls its plan back inside the importer, so the unit commits nothing.
        body = importer.import_ledger(
            session,
            content,
            filename,
            actor=principal.subject,
            today=today,
            dry_run=dry_run,
            check_scope=principal.check_scope,
            workbook=workbook,
            progress=progress,
        )
        return (200 if dry_run else 201), jsonable_encoder(localise(body, language))

    if rows > request.app.state.settings.import_job_min_rows:
        return jobs.start_job(request, principal.subject, "projects.import", rows, run)
    with write.unit() as session:
        status, body = run(lambda _: None, session)
    response.status_code = status
    return body


@router.get(
    "/jobs/{job_id}",
    response_model=ImportJob,
    summary="An import job: its progress, then the import's answer",
    description=JOB_DESCRIPTION,
    responses={404: {"description": "No such job, or another caller's"}},
)
def read_job(request: Request, principal: ProjectWriter, job_id: str) -> Any:
    return request.app.state.jobs.read(job_id, subject=principal.subject)


@router.get("/projects/{project_id}", response_model=ProjectDetail, summary="One project")
def read_project(project: ProjectDep, session: SessionDep, today: Today, response: Response) -> Any:
    assert project.id is not None
    blockers, _ = list_blockers(session, today=today, limit=500, offset=0, project_id=project.id)
    return {
        **public(session, project, response),
        "milestones": [
            milestone_public(m, today, project.stage) for m in milestones_of(session, project.id)
        ],
        "blockers": blockers,
        "investment": investment_summary(session, project)["months"],
    }


@router.patch(
    "/projects/{project_id}",
    response_model=ProjectPublic,
    summary="Partial update; If-Match required (428 missing, 412 stale)",
)
def update_project(
    body: ProjectUpdate,
    project: WritableProject,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
    response: Response,
) -> Any:
    if "sub_district" in body.model_fields_set:  # moving it must not take it out of reach
        principal.check_scope(body.sub_district)
    with write.unit(if_match=project.version) as session:
        service.update_project(
            session,
            project=project,
            changes=body.model_dump(exclude_unset=True),
            expected_version=project.version,
            actor=principal.subject,
            today=today,
        )
        out = public(session, project, response)
    return out


@router.post(
    "/projects/{project_id}/transitions",
    response_model=ProjectPublic,
    summary="Move the project to another stage (forward only; cancelled from any but built)",
    responses={409: {"description": "Illegal transition; `detail` says why"}},
)
def transition_project(
    request: Request,
    body: TransitionCreate,
    project: WritableProject,
    write: WriteDep,
    principal: ProjectWriter,
    today: Today,
    response: Response,
    dry_run: Annotated[
        bool, Query(description="Only check the move: 200 with the project unchanged, or the 409")
    ] = False,
) -> Any:
    # If-Match is optional here: a move names its stage and date, not the fields it read.
    if request.headers.get("if-match"):
        require_if_match(request, project.version)
    if dry_run:
        service.check_move(project, to=body.to, on=body.on, today=today)
        return public(write.session, project, response)
    with write.unit() as session:
        service.transition(
            session,
            project=project,
            to=body.to,
            on=body.on,
            note=body.note,
            actor=principal.subject,
            today=today,
        )
        out = public(session, project, response)
    return out


@router.get(
    "/projects/{project_id}/history",
    response_model=Page[HistoryEntry],
    summary="Every change to the project and its milestones, blockers and investment",
)
def project_history(project: ProjectDep, session: SessionDep, page: Paging) -> Any:
    assert project.id is not None
    items, total = service.read_history(session, project.id, limit=page.limit, offset=page.offset)
    return {"items": items, "total": total}


@router.get("/pipeline", response_model=Pipeline, summary="The year's four batches (article 32)")
def year_pipeline(
    session: SessionDep,
    _: Reader,
    today: Today,
    year: Annotated[
        int | None,
        Query(
            ge=2000,
            le=2100,
            description="Default: the plan year (this year, kept within the plan's 2023–2025)",
        ),
    ] = None,
    projects: Annotated[
        bool, Query(description="false: the counts only, without each batch's projects")
    ] = True,
) -> Any:
    year = year or plan_year(today)
    return pipeline.year_view(session, year=year, today=today, projects=projects)
