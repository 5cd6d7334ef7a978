"""Roll-up computations: any target's value on any business date, by SQL over the facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select, Subquery
from sqlalchemy.sql.elements import BindParameter

from services.common.contracts.designations import LEVELS, in_force_on
from services.common.contracts.stages import CANCELLED, STARTED_STAGES
from services.common.contracts.stages import reached as stage_reached
from services.events.rollup import DESIGNATIONS, ENTERPRISES, PROJECTS, STAGES
from services.events.targets import Target


@dataclass(frozen=True)
class Period:
    """The span a target is paced and forecast over: its window, or an annual target's year."""

    start: date
    end: date


@dataclass(frozen=True)
class Point:
    """Count on `at` what entered between `lo` and `hi` (stocks use `at` alone)."""

    at: date
    lo: date
    hi: date


def period_of(target: Target, as_of: date) -> Period:
    window = target.window
    if target.measure != "annual":
        return Period(window.start, window.end)
    year = min(max(as_of, window.start), window.end).year
    return Period(max(window.start, date(year, 1, 1)), min(window.end, date(year, 12, 31)))


def point_of(target: Target, at: date) -> Point:
    period = period_of(target, at)
    return Point(at=at, lo=period.start, hi=min(at, period.end))


def month_ends(start: date, until: date) -> list[date]:
    """The last day of every month from `start`'s to `until`'s, the last one cut to `until`."""
    out: list[date] = []
    year, month = start.year, start.month
    while date(year, month, 1) <= until:
        nxt = date(year + month // 12, month % 12 + 1, 1)
        out.append(min(nxt - timedelta(days=1), until))
        year, month = nxt.year, nxt.month
    return out


# --- SQL building blocks ------------------------------------------------------------------
#
# A target's statements are built once per shape (source, measure, selector) and number of
# points, and run with the generation and the dates bound: building one costs several times
# running it on a small roll-up, and every refresh asks the same questions again.

Generation = int | BindParameter[int]
GENERATION = bindparam("generation", type_=Integer)
AT = bindparam("at", type_=Date)
DEADLINE = bindparam("deadline", type_=Date)
STATEMENTS = 2048
"""How many built statements are kept: a catalogue's shapes times its series' lengths fit."""


@dataclass(frozen=True)
class Shape:
    """What a target's counting statements depend on, so targets alike share them."""

    key: str
    target: Target = field(compare=False)


def shape_of(target: Target) -> Shape:
    sel = target.selector
    assert sel is not None
    return Shape(f"{target.source}/{target.measure}/{sel.model_dump_json()}", target)


def _points(n: int) -> Subquery:
    """n points, their dates bound as at_i, lo_i, hi_i (see point_params)."""
    selects = [
        select(
            literal(i, Integer).label("k"),
            bindparam(f"at_{i}", type_=Date).label("at"),
            bindparam(f"lo_{i}", type_=Date).label("lo"),
            bindparam(f"hi_{i}", type_=Date).label("hi"),
        )
        for i in range(n)
    ]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("pts")


def point_params(points: Sequence[Point]) -> dict[str, date]:
    out: dict[str, date] = {}
    for i, p in enumerate(points):
        out |= {f"at_{i}": p.at, f"lo_{i}": p.lo, f"hi_{i}": p.hi}
    return out


def _reach(generation: Generation, target: Target) -> Subquery:
    """Per matching project: when it reached the target's stage, started, appeared, was cancelled.

    Reaching a stage means entering it or any later one (a skipped stage is passed through).
    """
    sel = target.selector
    assert sel is not None and sel.stage is not None
    p, s = PROJECTS.c, STAGES.c
    reached = stage_reached(sel.stage)
    where = [p.generation == generation, p.category.in_(sel.categories)]
    if sel.quantity_unit is not None:
        where.append(p.quantity_unit == sel.quantity_unit)
    # The target's projects first, then their stages by key. Left to itself, SQLite (knowing
    # nothing of the tables' contents) walks every stage of the generation instead: 50 ms
    # rather than 0.1 for a category of 60 projects among 20,000.
    chosen = (
        select(
            p.generation,
            p.id,
            p.version,
            p.name,
            p.category,
            p.quantity,
            p.quantity_unit,
            p.planned_completion,
            p.planned_start,
        )
        .where(*where)
        .cte("chosen")
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )
    c = chosen.c
    planned = c.planned_completion if sel.stage == "built" else c.planned_start
    return (
        select(
            c.id,
            c.name,
            c.category,
            c.quantity,
            c.quantity_unit,
            c.planned_completion,
            planned.label("planned_on"),
            func.min(s.entered_on).label("first_on"),
            func.min(case((s.stage.in_(STARTED_STAGES), s.entered_on))).label("started_on"),
            func.min(case((s.stage.in_(reached), s.entered_on))).label("reached_on"),
            func.min(case((s.stage == CANCELLED, s.entered_on))).label("cancelled_on"),
        )
        .select_from(chosen)
        .join(
            STAGES,
            and_(s.generation == c.generation, s.project_id == c.id, s.version == c.version),
        )
        .group_by(*c)  # PostgreSQL sees no key in a CTE: every column it carries
        .subquery("reach")
    )


def _project_counts(r: Any, pts: Any) -> ColumnElement[bool]:
    return and_(
        r.c.reached_on >= pts.c.lo,
        r.c.reached_on <= pts.c.hi,
        or_(r.c.cancelled_on.is_(None), r.c.cancelled_on > pts.c.at),
    )


def _qualifying(generation: Generation, target: Target) -> Subquery:
    """The designations of the target's types and levels, narrowed by enterprise fields.

    `holder` is what a target counts once: the enterprise, or for item types the enterprise's
    named item. `fresh` is 1 for what counts as new: a first grant, or a renewal at a higher
    level than the one it renews (an upgrade is new at its level)."""
    sel = target.selector
    assert sel is not None
    d, e = DESIGNATIONS.c, ENTERPRISES.c
    renewed = DESIGNATIONS.alias("renewed")
    holder = func.coalesce(
        cast(d.enterprise_id, String).concat("/").concat(d.item_name),
        cast(d.enterprise_id, String),
    )
    fresh = case(
        (d.renews_id.is_(None), 1),
        (_level_rank(d.level) < _level_rank(renewed.c.level), 1),
        else_=0,
    )
    stmt: Select[Any] = (
        select(
            d.id,
            d.enterprise_id,
            d.item_name,
            holder.label("holder"),
            d.type,
            d.level,
            d.granted_on,
            d.expires_on,
            d.revoked_on,
            d.renews_id,
            fresh.label("fresh"),
        )
        .select_from(
            DESIGNATIONS.outerjoin(
                renewed,
                and_(renewed.c.generation == d.generation, renewed.c.id == d.renews_id),
            )
        )
        .where(d.generation == generation, d.type.in_(sel.designations))
    )
    if sel.levels:
        stmt = stmt.where(d.level.in_(sel.levels))
    narrowing = _enterprise_filters(target)
    if narrowing:
        stmt = stmt.join(
            ENTERPRISES, and_(e.generation == d.generation, e.id == d.enterprise_id)
        ).where(*narrowing)
    return stmt.subquery("qual")


def _level_rank(level: Any) -> Any:
    """0 for national, then down the levels; an unknown level ranks below them all."""
    return case(*((level == name, i) for i, name in enumerate(LEVELS)), else_=len(LEVELS))


def _enterprise_filters(target: Target) -> list[ColumnElement[bool]]:
    sel = target.selector
    assert sel is not None
    e = ENTERPRISES.c
    out: list[ColumnElement[bool]] = []
    if sel.industry_chain is not None:
        out.append(e.industry_chain == sel.industry_chain)
    if sel.industry_section is not None:
        out.append(e.industry_section == sel.industry_section)
    if sel.source_channel is not None:
        out.append(e.source_channel == sel.source_channel)
    return out


def valid_on(q: Any, at: Any) -> ColumnElement[bool]:
    """Held on `at`: the designations contract's in-force rule."""
    return in_force_on(q.c, at)


def _designation_counts(target: Target, q: Any, pts: Any) -> ColumnElement[bool]:
    if target.measure == "stock":
        return valid_on(q, pts.c.at)
    # new / annual: first grants and upgrades (not renewals) inside the period, unless revoked
    return and_(
        q.c.fresh == 1,
        q.c.granted_on >= pts.c.lo,
        q.c.granted_on <= pts.c.hi,
        or_(q.c.revoked_on.is_(None), q.c.revoked_on > pts.c.at),
    )


def _landed(generation: Generation, target: Target) -> Subquery:
    e = ENTERPRISES.c
    return (
        select(e.id, e.name, e.landed_on)
        .where(e.generation == generation, e.landed_on.is_not(None), *_enterprise_filters(target))
        .subquery("landed")
    )


# --- values -------------------------------------------------------------------------------


def values(
    conn: Connection, generation: int, target: Target, points: Sequence[Point]
) -> list[tuple[float, int]]:
    """(value, how many count) of a counted target at each point, in one query."""
    stmt = _values_statement(shape_of(target), len(points))
    params = {"generation": generation, **point_params(points)}
    found = {row[0]: (row[1], row[2]) for row in conn.execute(stmt, params)}
    out = []
    for i in range(len(points)):
        amount_, n = found.get(i, (0, 0))
        out.append((round(float(amount_), 4) if target.measure == "sum" else int(amount_), int(n)))
    return out


@lru_cache(maxsize=STATEMENTS)
def _values_statement(shape: Shape, n: int) -> Select[Any]:
    target = shape.target
    sel = target.selector
    assert sel is not None
    pts = _points(n)
    generation = GENERATION
    if target.source == "projects":
        r = _reach(generation, target)
        amount = (
            func.coalesce(func.sum(r.c.quantity), 0.0)
            if target.measure == "sum"
            else func.count(r.c.id)
        )
        stmt = select(pts.c.k, amount, func.count(r.c.id)).select_from(
            pts.outerjoin(r, _project_counts(r, pts))
        )
    elif sel.landed:
        q = _landed(generation, target)
        joined = and_(q.c.landed_on >= pts.c.lo, q.c.landed_on <= pts.c.hi)
        stmt = select(pts.c.k, func.count(q.c.id), func.count(q.c.id)).select_from(
            pts.outerjoin(q, joined)
        )
    else:
        q = _qualifying(generation, target)
        holders = func.count(distinct(q.c.holder))
        stmt = select(pts.c.k, holders, holders).select_from(
            pts.outerjoin(q, _designation_counts(target, q, pts))
        )
    return stmt.group_by(pts.c.k)


def pipeline(
    conn: Connection, generation: int, target: Target, at: date, deadline: date
) -> tuple[float, float]:
    """Projects not yet counted on `at`, planned to reach the stage by `deadline`:
    (under way, in reserve)."""
    stmt = _pipeline_statement(shape_of(target))
    params = {"generation": generation, "at": at, "deadline": deadline}
    under, reserve = conn.execute(stmt, params).one()
    return float(under or 0), float(reserve or 0)


@lru_cache(maxsize=STATEMENTS)
def _pipeline_statement(shape: Shape) -> Select[Any]:
    target, at, deadline = shape.target, AT, DEADLINE
    r = _reach(GENERATION, target)
    weight: Any = func.coalesce(r.c.quantity, 0.0) if target.measure == "sum" else 1
    under_way = r.c.started_on <= at
    stmt = select(
        func.coalesce(func.sum(case((under_way, weight), else_=0)), 0),
        func.coalesce(func.sum(case((under_way, 0), else_=weight)), 0),
    ).where(
        r.c.first_on <= at,
        or_(r.c.cancelled_on.is_(None), r.c.cancelled_on > at),
        or_(r.c.reached_on.is_(None), r.c.reached_on > at),
        r.c.planned_on <= deadline,
    )
    return stmt


def holding_through(
    conn: Connection, generation: int, target: Target, at: date, deadline: date
) -> int:
    """Enterprises holding the designation on `at` that will still hold it on `deadline`
    unless renewed; a revocation or renewal after `at` is not known on `at`."""
    stmt = _holding_statement(shape_of(target))
    params = {"generation": generation, "at": at, "deadline": deadline}
    return int(conn.execute(stmt, params).scalar_one())


@lru_cache(maxsize=STATEMENTS)
def _holding_statement(shape: Shape) -> Select[Any]:
    q = _qualifying(GENERATION, shape.target)
    return select(func.count(distinct(q.c.holder))).where(
        valid_on(q, AT), or_(q.c.expires_on.is_(None), q.c.expires_on >= DEADLINE)
    )


# --- contributors ---------------------------------------------------------------------------


def contributors(
    conn: Connection, generation: int, target: Target, point: Point, limit: int
) -> list[dict[str, Any]]:
    """The projects or enterprises that count at `point`, earliest first, at most `limit`."""
    sel = target.selector
    assert sel is not None
    pts, params = _points(1), point_params([point])
    if target.source == "projects":
        r = _reach(generation, target)
        stmt = (
            select(r)
            .select_from(pts.join(r, _project_counts(r, pts)))
            .order_by(r.c.reached_on, r.c.id)
            .limit(limit)
        )
        return [_project_contributor(row) for row in conn.execute(stmt, params).mappings()]
    if sel.landed:
        q = _landed(generation, target)
        stmt = (
            select(q)
            .select_from(pts.join(q, and_(q.c.landed_on >= pts.c.lo, q.c.landed_on <= pts.c.hi)))
            .order_by(q.c.landed_on, q.c.id)
            .limit(limit)
        )
        return [
            {"kind": "enterprise", "id": r.id, "name": r.name, "counted_on": r.landed_on}
            for r in conn.execute(stmt, params)
        ]
    return _designation_contributors(conn, generation, target, pts, params, limit)


def _project_contributor(row: Any) -> dict[str, Any]:
    return {
        "kind": "project",
        "id": row["id"],
        "name": row["name"],
        "counted_on": row["reached_on"],
        "category": row["category"],
        "quantity": row["quantity"],
        "quantity_unit": row["quantity_unit"],
        "planned_completion": row["planned_completion"],
    }


DESIGNATION_FIELDS = ("id", "type", "level", "item_name", "granted_on", "expires_on", "revoked_on")


def _designation_contributors(
    conn: Connection,
    generation: int,
    target: Target,
    pts: Subquery,
    params: dict[str, date],
    limit: int,
) -> list[dict[str, Any]]:
    q = _qualifying(generation, target)
    e = ENTERPRISES.c
    counting = _designation_counts(target, q, pts)
    firsts = (
        select(q.c.enterprise_id, func.min(q.c.granted_on).label("counted_on"))
        .select_from(pts.join(q, counting))
        .group_by(q.c.enterprise_id)
        .order_by(func.min(q.c.granted_on), q.c.enterprise_id)
        .limit(limit)
    )
    order = {r.enterprise_id: r.counted_on for r in conn.execute(firsts, params)}
    if not order:
        return []
    rows = conn.execute(select(e.id, e.name).where(e.generation == generation, e.id.in_(order)))
    names = {eid: name for eid, name in rows}
    held: dict[int, list[dict[str, Any]]] = {k: [] for k in order}
    rows = conn.execute(
        select(q).select_from(pts.join(q, counting)).where(q.c.enterprise_id.in_(order)),
        params,
    )
    for d in rows.mappings():
        held[d["enterprise_id"]].append({k: d[k] for k in DESIGNATION_FIELDS})
    return [
        {
            "kind": "enterprise",
            "id": eid,
            "name": names.get(eid, ""),
            "counted_on": on,
            "designations": sorted(held[eid], key=lambda d: (d["granted_on"], d["id"])),
        }
        for eid, on in order.items()
    ]


# --- dashboard counts ---------------------------------------------------------------------


def designations_by_type(conn: Connection, generation: int, at: date) -> list[dict[str, Any]]:
    d = DESIGNATIONS
    stmt = (
        select(d.c.type, func.count())
        .where(d.c.generation == generation, valid_on(d, at))
        .group_by(d.c.type)
        .order_by(d.c.type)
    )
    return [{"type": t, "count": n} for t, n in conn.execute(stmt)]


def pipeline_by_stage_category(conn: Connection, generation: int, at: date) -> list[dict[str, Any]]:
    """Projects by the stage they were in on `at` (their latest stage entry by then)."""
    p, s = PROJECTS.c, STAGES.c
    current = and_(
        s.generation == p.generation,
        s.project_id == p.id,
        s.version == p.version,
        s.entered_on <= at,
    )
    last = (
        select(p.id, p.category, func.max(s.ordinal).label("ordinal"))
        .join(STAGES, current)
        .where(p.generation == generation)
        .group_by(p.generation, p.id)
        .subquery("last")
    )
    stmt = (
        select(s.stage, last.c.category, func.count())
        .select_from(last)
        .join(
            STAGES,
            and_(
                s.generation == generation,
                s.project_id == last.c.id,
                s.ordinal == last.c.ordinal,
            ),
        )
        .group_by(s.stage, last.c.category)
        .order_by(s.stage, last.c.category)
    )
    return [{"stage": st, "category": c, "count": n} for st, c, n in conn.execute(stmt)]
