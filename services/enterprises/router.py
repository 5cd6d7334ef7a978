"""HTTP routes of the enterprise registry (API.md "Enterprises"); the rules live in the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from sqlalchemy.orm import Session

from services.common import jobs
from services.common.auth import EnterpriseWriter, Reader
from services.common.contracts.designations import DESIGNATION_TYPES
from services.common.days import Day
from services.common.errors import Invalid, request_language
from services.common.i18n import localise
from services.common.jobs import JOB_DESCRIPTION, ImportJob
from services.common.labels import MESSAGES as COMMON
from services.common.paging import Page, Paging
from services.common.runtime import SessionDep, TodayDep, require_if_match, set_etag
from services.common.spreadsheet import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    content_disposition,
    write_csv,
    write_xlsx,
)
from services.common.unit_of_work import Write, WriteDep
from services.enterprises import catalogue, designations, ledger, service
from services.enterprises.deps import (
    EnterpriseDep,
    FiltersDep,
    SettingsDep,
    WritableEnterprise,
)
from services.enterprises.importer import import_ledger
from services.enterprises.ledger import read_plan
from services.enterprises.models import (
    Designation,
    DesignationCreate,
    DesignationPublic,
    DesignationRenew,
    DesignationRevoke,
    Enterprise,
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseUpdate,
    ExpiringDesignation,
    HistoryEntry,
    ImportResult,
)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024

router = APIRouter(prefix="/api/v1", tags=["enterprises"])


def one(session: SessionDep, enterprise: Enterprise, response: Response) -> EnterprisePublic:
    set_etag(response, enterprise.version)
    return service.views(session, [enterprise])[0]


# --- enterprises ---------------------------------------------------------------------------


@router.post("/enterprises", status_code=201, response_model=EnterprisePublic)
def create_enterprise(
    principal: EnterpriseWriter,
    body: EnterpriseCreate,
    write: WriteDep,
    settings: SettingsDep,
    today: TodayDep,
    response: Response,
) -> EnterprisePublic:
    """Register an enterprise; an invalid USCC is a 422 naming the rule, a known one a 409."""
    principal.check_scope(body.sub_district)
    with write.unit() as session:
        enterprise = service.create(
            session, data=body, actor=principal.subject, settings=settings, today=today
        )
    response.headers["Location"] = f"/api/v1/enterprises/{enterprise.id}"
    return one(session, enterprise, response)


@router.get("/enterprises", response_model=Page[EnterprisePublic])
def list_enterprises(
    _: Reader, session: SessionDep, page: Paging, filters: FiltersDep, today: TodayDep
) -> Page[EnterprisePublic]:
    """Enterprises by id, with their designations; `designation` keeps those holding it `on`."""
    rows, total = service.search(
        session,
        filters=filters.model_dump(),
        on=filters.on or today,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=service.views(session, rows), total=total)


@router.get("/enterprises/export", response_class=Response)
def export_enterprises(
    _: Reader,
    session: SessionDep,
    filters: FiltersDep,
    today: TodayDep,
    format: Literal["xlsx", "csv"] = "xlsx",
) -> Response:
    """The ledger (台账) with Chinese headers, one row per designation; import reads it back."""
    rows, _total = service.search(
        session, filters=filters.model_dump(), on=filters.on or today, limit=None
    )
    cells = ledger.ledger_rows(session, rows)
    if format == "csv":
        content, media = write_csv(ledger.EXPORT_COLUMNS, cells), CSV_MEDIA_TYPE
    else:
        content = write_xlsx(ledger.EXPORT_COLUMNS, cells, title=ledger.SHEET_TITLE)
        media = XLSX_MEDIA_TYPE
    filename = f"{ledger.EXPORT_FILENAME}-{today.isoformat()}.{format}"
    return Response(
        content, media_type=media, headers={"Content-Disposition": content_disposition(filename)}
    )


@router.post(
    "/enterprises/import",
    response_model=ImportResult,
    responses={
        202: {
            "description": "A file of more rows than `PLANTRACK_IMPORT_JOB_MIN_ROWS` (2,000) "
            "runs on as a job: `Location: /api/v1/jobs/{id}`; the job's `result` is this "
            "answer's body.",
            "model": ImportJob,
        }
    },
)
def import_enterprises(
    request: Request,
    principal: EnterpriseWriter,
    file: UploadFile,
    write: WriteDep,
    settings: SettingsDep,
    today: TodayDep,
    dry_run: Annotated[bool, Query(description="Answer the plan; write nothing")] = False,
) -> Any:
    """Upsert by USCC from an .xlsx or .csv ledger; all-or-nothing, every bad row named.

    An export imported back unchanged changes nothing; a row whose `版本` is older than the
    enterprise's and that would change it is refused as a conflict. `?dry_run=true` answers the
    counts and every error and writes nothing."""
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise Invalid(COMMON("file_over_mb", mb=MAX_UPLOAD_BYTES >> 20), loc=["file"])
    filename = file.filename or ""
    already_read = read_plan(content, filename, settings=settings, today=today)  # the safe read
    language = request_language(request)

    def run(progress: Callable[[int], None], session: Session) -> tuple[int, dict[str, Any]]:
        # A dry run rolls its plan back inside the importer, so the unit commits nothing.
        result = import_ledger(
            session,
            content=content,
            filename=filename,
            actor=principal.subject,
            settings=settings,
            today=today,
            dry_run=dry_run,
            check_scope=principal.check_scope,
            already_read=already_read,
        )
        return 200, jsonable_encoder(localise(result.model_dump(), language))

    rows = len(already_read[1].rows)
    if rows > request.app.state.settings.import_job_min_rows:
        return jobs.start_job(request, principal.subject, "enterprises.import", rows, run)
    with write.unit() as session:
        return run(lambda _: None, session)[1]


@router.get(
    "/jobs/{job_id}",
    response_model=ImportJob,
    summary="An import job: its progress, then the import's answer",
    description=JOB_DESCRIPTION,
    responses={404: {"description": "No such job, or another caller's"}},
)
def read_job(request: Request, principal: EnterpriseWriter, job_id: str) -> Any:
    return request.app.state.jobs.read(job_id, subject=principal.subject)


@router.get("/enterprises/catalogue")
def enterprise_catalogue(_: Reader, settings: SettingsDep) -> dict[str, Any]:
    """Designation types (labels, levels, validity), levels, industry sections, chains, sizes."""
    overrides = settings.validity_years_override
    return {
        "designation_types": [
            {
                "key": t.key,
                "label": t.label,
                "levels": list(t.levels),
                "default_level": t.default_level,
                "validity": catalogue.validity_of(t.key, overrides=overrides),
                "clauses": list(t.clauses),
            }
            for t in DESIGNATION_TYPES.values()
        ],
        "levels": catalogue.LEVEL_LABELS,
        "industry_sections": catalogue.INDUSTRY_SECTIONS,
        "industry_chains": list(
            catalogue.industry_chains(getattr(settings, "industry_chains", None))
        ),
        "sizes": catalogue.SIZE_LABELS,
    }


@router.get("/enterprises/by-uscc/{uscc}", response_model=EnterprisePublic)
def enterprise_by_uscc(
    _: Reader, uscc: str, session: SessionDep, response: Response
) -> EnterprisePublic:
    """The enterprise registered under a code (case and spaces normalised)."""
    return one(session, service.get_by_uscc(session, code=uscc), response)


@router.get("/enterprises/{enterprise_id}", response_model=EnterprisePublic)
def get_enterprise(
    enterprise: EnterpriseDep, session: SessionDep, response: Response
) -> EnterprisePublic:
    return one(session, enterprise, response)


@router.patch("/enterprises/{enterprise_id}", response_model=EnterprisePublic)
def update_enterprise(
    principal: EnterpriseWriter,
    enterprise: WritableEnterprise,
    body: EnterpriseUpdate,
    write: WriteDep,
    settings: SettingsDep,
    today: TodayDep,
    response: Response,
) -> EnterprisePublic:
    """Partial update; `If-Match` must carry the ETag read (428 without, 412 if stale)."""
    if "sub_district" in body.model_fields_set:  # moving it must not take it out of reach
        principal.check_scope(body.sub_district)
    with write.unit(if_match=enterprise.version) as session:
        enterprise = service.update(
            session,
            enterprise=enterprise,
            expected_version=enterprise.version,
            data=body,
            actor=principal.subject,
            settings=settings,
            today=today,
        )
    return one(session, enterprise, response)


@router.get("/enterprises/{enterprise_id}/history", response_model=Page[HistoryEntry])
def enterprise_history(
    enterprise: EnterpriseDep, session: SessionDep, page: Paging
) -> Page[HistoryEntry]:
    """Every change of the enterprise and its designations: who, when, field before → after."""
    rows, total = service.changes_of(
        session, enterprise_id=enterprise.id, limit=page.limit, offset=page.offset
    )
    return Page(items=[HistoryEntry.model_validate(r) for r in rows], total=total)


# --- designations --------------------------------------------------------------------------


def recorded(
    write: Write, response: Response, record: Callable[..., Designation], **given: Any
) -> DesignationPublic:
    """A designation granted or renewed: `record(session, **given)` → commit → its ETag and
    Location → its view."""
    with write.unit() as session:
        d = record(session, **given)
    write.etag(d.version)
    response.headers["Location"] = f"/api/v1/enterprises/{d.enterprise_id}/designations/{d.id}"
    return designations.view(session, d)


@router.get("/enterprises/{enterprise_id}/designations", response_model=list[DesignationPublic])
def list_designations(enterprise: EnterpriseDep, session: SessionDep) -> list[DesignationPublic]:
    return service.designations_of(session, [enterprise.id]).get(enterprise.id, [])


@router.post(
    "/enterprises/{enterprise_id}/designations", status_code=201, response_model=DesignationPublic
)
def grant_designation(
    principal: EnterpriseWriter,
    enterprise: WritableEnterprise,
    body: DesignationCreate,
    write: WriteDep,
    settings: SettingsDep,
    today: TodayDep,
    response: Response,
) -> DesignationPublic:
    """Grant a designation; `expires_on` defaults from the type; with `renews_id`, a renewal.

    A second designation of the same type overlapping one the enterprise holds is a 409
    unless it renews that one.
    """
    return recorded(
        write,
        response,
        designations.grant,
        enterprise_id=enterprise.id,
        data=body,
        actor=principal.subject,
        settings=settings,
        today=today,
    )


@router.get(
    "/enterprises/{enterprise_id}/designations/{designation_id}", response_model=DesignationPublic
)
def get_designation(
    enterprise: EnterpriseDep, designation_id: int, session: SessionDep, response: Response
) -> DesignationPublic:
    d = designations.get_designation(
        session, enterprise_id=enterprise.id, designation_id=designation_id
    )
    set_etag(response, d.version)
    return designations.view(session, d)


@router.post(
    "/enterprises/{enterprise_id}/designations/{designation_id}/renew",
    status_code=201,
    response_model=DesignationPublic,
)
def renew_designation(
    principal: EnterpriseWriter,
    enterprise: WritableEnterprise,
    designation_id: int,
    body: DesignationRenew,
    write: WriteDep,
    settings: SettingsDep,
    today: TodayDep,
    response: Response,
) -> DesignationPublic:
    """A new designation continuing this one (DesignationRenewed); the old keeps its dates."""
    return recorded(
        write,
        response,
        designations.renew,
        enterprise_id=enterprise.id,
        designation_id=designation_id,
        data=body,
        actor=principal.subject,
        settings=settings,
        today=today,
    )


@router.post(
    "/enterprises/{enterprise_id}/designations/{designation_id}/revoke",
    response_model=DesignationPublic,
)
def revoke_designation(
    principal: EnterpriseWriter,
    enterprise: WritableEnterprise,
    designation_id: int,
    body: DesignationRevoke,
    request: Request,
    write: WriteDep,
    today: TodayDep,
) -> DesignationPublic:
    """Revoke from `on` (default today); an `If-Match` header, when sent, must be current."""
    with write.unit() as session:
        expected = None
        if request.headers.get("if-match"):
            current = designations.get_designation(
                session, enterprise_id=enterprise.id, designation_id=designation_id
            )
            require_if_match(request, current.version)
            expected = current.version
        d = designations.revoke(
            session,
            enterprise_id=enterprise.id,
            designation_id=designation_id,
            data=body,
            expected_version=expected,
            actor=principal.subject,
            today=today,
        )
    write.etag(d.version)
    return designations.view(session, d)


@router.get("/designations/expiring", response_model=Page[ExpiringDesignation])
def expiring_designations(
    _: Reader,
    session: SessionDep,
    page: Paging,
    today: TodayDep,
    within_days: Annotated[int, Query(ge=0, le=3650, description="Lapsing within N days")] = 90,
) -> Page[ExpiringDesignation]:
    """Designations in force that lapse within `within_days` and are not renewed yet."""
    items, total = designations.expiring(
        session, today=today, within_days=within_days, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total)


@router.get("/designations/by-type")
def designations_by_type(
    _: Reader,
    session: SessionDep,
    today: TodayDep,
    on: Annotated[Day | None, Query(description="Default today")] = None,
) -> dict[str, Any]:
    """How many enterprises hold each designation type on a date (every type listed)."""
    day = on or today
    return {"on": day.isoformat(), "items": designations.counts_by_type(session, on=day)}
