"""HTTP routes of the events service: targets, their progress, reports, replay and facts."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from services.common.auth import Admin, Reader, TargetReporter
from services.common.days import Day
from services.common.paging import MAX_LIMIT
from services.common.runtime import RuntimeDep
from services.common.unit_of_work import WriteDep
from services.events import progress, replay, reports
from services.events.consumer import ProgressTracker
from services.events.fastpath import KeyOf
from services.events.models import (
    ReplayResult,
    ReportCreate,
    ReportPage,
    ReportPublic,
    Status,
    TargetDetail,
    TargetPage,
    TargetSummary,
)
from services.events.rollup import DESIGNATIONS, ENTERPRISES, PROJECTS, STAGES, generations
from services.events.targets import Target, get_target, load_catalogue
from services.events.views import Compute, ViewCache

router = APIRouter(prefix="/api/v1")

AS_OF_HELP = "The business date to judge on (YYYY-MM-DD); default today"
FACT_TABLES = {
    "projects": PROJECTS,
    "stages": STAGES,
    "enterprises": ENTERPRISES,
    "designations": DESIGNATIONS,
}


def today(request: Request) -> date:
    """The business date (see `services.common.contracts.calendar`)."""
    return request.app.state.runtime.calendar.today()


async def as_of_date(
    request: Request, as_of: Annotated[Day | None, Query(description=AS_OF_HELP)] = None
) -> date:
    # async: no I/O here, and each sync dependency costs a hop to a worker thread
    return as_of or today(request)


def reading_engine(request: Request) -> Engine:
    """The engine for queries (on SQLite one that never takes the write lock)."""
    return request.app.state.reads


async def view_cache(request: Request) -> ViewCache:
    """Target views kept per state of the roll-up (see `services.events.views`)."""
    return views_of(request)


def views_of(request: Request) -> ViewCache:
    return request.app.state.views


async def kept_or_computed(request: Request, key_of: KeyOf, day: date, compute: Compute) -> bytes:
    """The view this request names, kept or computed; the request is remembered, so that the
    same request again is answered in front of the route (`services.events.fastpath`)."""
    body = await views_of(request).serve(key_of(day), compute)
    request.app.state.requests.remember(request.scope, key_of)
    return body


def json_response(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


async def target_of(target_id: str) -> Target:
    """The catalogue's target, or 404."""
    return get_target(target_id)


AsOf = Annotated[date, Depends(as_of_date)]
AsOfQuery = Annotated[Day | None, Query(description=AS_OF_HELP)]
"""`as_of` as the route's own parameter: the hot routes solve no dependency for it."""
Reads = Annotated[Engine, Depends(reading_engine)]
Views = Annotated[ViewCache, Depends(view_cache)]
TargetDep = Annotated[Target, Depends(target_of)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"At most {MAX_LIMIT}")]
Offset = Annotated[int, Query(ge=0)]


@router.get(
    "/targets",
    response_model=TargetPage,
    tags=["targets"],
    summary="Every target of the plan and its progress",
    description="The whole catalogue (112 targets fit one page of 500).\n\n"
    + progress.COUNTING_RULES
    + "\n"
    + progress.STATUS_RULES,
)
async def list_targets(
    request: Request,
    _: Reader,
    source: Literal["projects", "enterprises", "reported"] | None = None,
    status: Status | None = None,
    category: Annotated[
        str | None, Query(description="Only targets that count projects of this category")
    ] = None,
    limit: Limit = MAX_LIMIT,
    offset: Offset = 0,
    as_of: AsOfQuery = None,
) -> Response:
    def key_of(day: date) -> Hashable:
        return ("targets", as_of or day, source, status, category, limit, offset)

    def compute(conn: Connection, generation: int) -> bytes:
        chosen = [
            t
            for t in load_catalogue()
            if (source is None or t.source == source)
            and (category is None or (t.selector is not None and category in t.selector.categories))
        ]
        items = progress.assess_all(conn, chosen, day, generation)
        if status is not None:
            items = [i for i in items if i["status"] == status]
        page = {"items": items[offset : offset + limit], "total": len(items)}
        return TargetPage.model_validate(page).model_dump_json().encode()

    day = as_of or today(request)
    return json_response(await kept_or_computed(request, key_of, day, compute))


@router.get(
    "/targets/summary",
    response_model=TargetSummary,
    tags=["targets"],
    summary="Targets by status, designations by type, projects by stage × category",
    description="What the dashboard overview needs, in one call.\n\n" + progress.STATUS_RULES,
)
async def summary(_: Reader, views: Views, as_of: AsOf) -> Response:
    return json_response(await views.serve(("summary", as_of), partial(summary_of, as_of)))


def summary_of(as_of: date, conn: Connection, generation: int) -> bytes:
    found = progress.summary(conn, load_catalogue(), as_of, generation)
    return TargetSummary.model_validate(found).model_dump_json().encode()


def warm(views: ViewCache, today: date) -> None:
    """Compute today's summary (what the dashboards ask for) ahead of the next request."""
    views.get(("summary", today), partial(summary_of, today))


@router.get(
    "/targets/{target_id}",
    response_model=TargetDetail,
    tags=["targets"],
    summary="One target as it stood on a date, with contributors and monthly series",
    description=progress.COUNTING_RULES + "\n" + progress.STATUS_RULES,
)
async def read_target(
    request: Request,
    _: Reader,
    target_id: str,
    contributors_limit: Annotated[
        int, Query(ge=1, le=5000, description="Contributors listed at most (earliest first)")
    ] = 500,
    as_of: AsOfQuery = None,
) -> Response:
    target = get_target(target_id)
    day = as_of or today(request)

    def key_of(day: date) -> Hashable:
        return ("target", target.id, as_of or day, contributors_limit)

    def compute(conn: Connection, generation: int) -> bytes:
        found = progress.detail(conn, generation, target, day, limit=contributors_limit)
        return TargetDetail.model_validate(found).model_dump_json().encode()

    return json_response(await kept_or_computed(request, key_of, day, compute))


@router.post(
    "/targets/{target_id}/reports",
    response_model=ReportPublic,
    status_code=201,
    tags=["targets"],
    summary="Report a statistic for a reported target",
    description="Only targets with measure `reported` take reports (else 409). The current "
    "value is the latest period's report; every report is kept.",
)
def create_report(
    request: Request,
    principal: TargetReporter,
    write: WriteDep,
    target: TargetDep,
    body: ReportCreate,
) -> Any:
    with write.unit() as session:
        row = reports.report(
            session, target=target, body=body, principal=principal, today=today(request)
        )
    tracker: ProgressTracker | None = getattr(request.app.state, "tracker", None)
    if tracker is not None:
        tracker.touch([target.id])
    return row


@router.get(
    "/targets/{target_id}/reports",
    response_model=ReportPage,
    tags=["targets"],
    summary="Every report of a target, the latest made first",
)
def list_reports(
    _: Reader, reads: Reads, target: TargetDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    with reads.connect() as conn:
        items, total = reports.history(conn, target_id=target.id, limit=limit, offset=offset)
    return {"items": items, "total": total}


@router.post(
    "/admin/replay",
    response_model=ReplayResult,
    tags=["admin"],
    summary="Rebuild every roll-up from the event stream and switch over atomically",
    description="Reads the domain stream from its first message to its last as of the call "
    "into a fresh generation while the live consumer keeps going, then makes it the active "
    "one. 409 while another replay runs.",
)
async def run_replay(request: Request, _: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    result = await replay.replay(
        js=runtime.js,
        engine=runtime.engine,
        settings=runtime.settings,  # type: ignore[arg-type]
    )
    tracker: ProgressTracker | None = getattr(request.app.state, "tracker", None)
    if tracker is not None:
        await tracker.refresh()
    return result


@router.get(
    "/rollup/facts",
    tags=["internal"],
    summary="The roll-up facts of a generation (for audits and ground-truth checks)",
)
def facts(
    _: Reader,
    reads: Reads,
    kind: Literal["projects", "stages", "enterprises", "designations"],
    generation: Annotated[int | None, Query(description="Default: the active one")] = None,
    limit: Limit = MAX_LIMIT,
    offset: Offset = 0,
) -> dict[str, Any]:
    table = FACT_TABLES[kind]
    with reads.connect() as conn:
        chosen = generation if generation is not None else generations(conn).active
        where = table.c.generation == chosen
        total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        rows = conn.execute(
            select(table)
            .where(where)
            .order_by(*table.primary_key.columns)
            .limit(limit)
            .offset(offset)
        )
        items = [dict(r) for r in rows.mappings()]
    return {"generation": chosen, "kind": kind, "items": items, "total": total}
