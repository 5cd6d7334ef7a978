"""Reported indicators: statistics a department reports by period, kept as a series."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from services.common.auth import Principal
from services.common.envelope import new_id, utcnow
from services.common.errors import Conflict, Invalid
from services.common.outbox import record
from services.events.consumer import target_reported
from services.events.labels import MESSAGES, SOURCE_LABELS
from services.events.models import ReportCreate, TargetReport, outbox
from services.events.targets import Target
from services.events.views import tick

REPORTS: Table = TargetReport.__table__  # type: ignore[assignment]
EARLIEST_YEAR = 2000


@dataclass(frozen=True, slots=True)
class Reading:
    """A report as progress needs it; a later `id` is a later report."""

    id: int
    value: float
    period_start: date
    period_end: date
    note: str | None = None


def period_bounds(period: str) -> tuple[date, date]:
    """ "2024" → the year, "2024-Q3" → the quarter, "2024-06" → the month (first and last day)."""
    year = int(period[:4])
    if len(period) == 4:
        return date(year, 1, 1), date(year, 12, 31)
    if period[5] == "Q":
        first = 3 * (int(period[6]) - 1) + 1
        return date(year, first, 1), _month_end(year, first + 2)
    month = int(period[5:7])
    return date(year, month, 1), _month_end(year, month)


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def report(
    session: Session, *, target: Target, body: ReportCreate, principal: Principal, today: date
) -> TargetReport:
    """Record a report and its TargetReported event in one transaction."""
    if target.source != "reported":
        source_zh = SOURCE_LABELS.get(target.source, target.source)
        raise Conflict(
            MESSAGES(
                "report.not_reported", id=target.id, source=target.source, source_zh=source_zh
            ),
            loc=["id"],
        )
    check_value(target, body.value, body.note)
    start, end = period_bounds(body.period)
    if start.year < EARLIEST_YEAR:
        raise Invalid(
            MESSAGES("report.too_early", period=body.period, earliest=EARLIEST_YEAR),
            loc=["period"],
        )
    if end > today:
        raise Invalid(
            MESSAGES("report.not_ended", period=body.period, today=today.isoformat()),
            loc=["period"],
        )
    event_id = new_id()
    row = TargetReport(
        target_id=target.id,
        period=body.period,
        period_start=start,
        period_end=end,
        value=body.value,
        note=body.note,
        reported_by=principal.subject,
        reported_at=utcnow(),
        event_id=str(event_id),
    )
    session.add(row)
    session.flush()
    record(session, outbox, target_reported(row, event_id=event_id))
    tick(session.connection())
    return row


def check_value(target: Target, value: float, note: str | None) -> None:
    """A coverage is a percentage; a milestone is done (1, with its evidence) or not (0)."""
    if target.measure == "share" and not 0 <= value <= 100:
        raise Invalid(MESSAGES("report.share", value=value), loc=["value"])
    if target.measure == "milestone":
        if value not in (0, 1):
            raise Invalid(MESSAGES("report.milestone", value=value), loc=["value"])
        if value == 1 and not (note and note.strip()):
            raise Invalid(MESSAGES("report.evidence"), loc=["note"])


def history(
    conn: Connection, *, target_id: str, limit: int, offset: int
) -> tuple[list[dict[str, object]], int]:
    """Every report of a target, the latest made first."""
    r = REPORTS.c
    total = conn.execute(
        select(func.count()).select_from(REPORTS).where(r.target_id == target_id)
    ).scalar_one()
    rows = conn.execute(
        select(REPORTS)
        .where(r.target_id == target_id)
        .order_by(r.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [dict(m) for m in rows.mappings()], int(total)


def readings(conn: Connection, target_ids: Iterable[str]) -> dict[str, list[Reading]]:
    """Every report of the given targets, by target, oldest made first."""
    ids = list(target_ids)
    out: dict[str, list[Reading]] = defaultdict(list)
    if not ids:
        return out
    r = REPORTS.c
    stmt = (
        select(r.target_id, r.id, r.value, r.period_start, r.period_end, r.note)
        .where(r.target_id.in_(ids))
        .order_by(r.id)
    )
    for tid, rid, value, start, end, note in conn.execute(stmt):
        out[tid].append(Reading(rid, float(value), start, end, note))
    return out


def known_on(readings_: Iterable[Reading], at: date) -> list[Reading]:
    """The reports describing a period over by `at`: a figure stands as of its period's end."""
    return [r for r in readings_ if r.period_end <= at]


def latest(readings_: Iterable[Reading]) -> Reading | None:
    """The report of the latest period (the last ending, then the shortest); re-reports win."""
    return max(readings_, key=lambda r: (r.period_end, r.period_start, r.id), default=None)


def earliest(readings_: Iterable[Reading]) -> Reading | None:
    """The report of the earliest period (the latest report made for it)."""
    return min(
        readings_,
        key=lambda r: (r.period_end, -r.period_start.toordinal(), -r.id),
        default=None,
    )


def chosen_periods(readings_: Iterable[Reading]) -> list[Reading]:
    """The reports a period sum adds up: the latest report of each period, a longer period
    replacing the shorter ones inside it (a year's figure its quarters', a quarter's its
    months'), so no day is counted twice."""
    last: dict[tuple[date, date], Reading] = {}
    for r in readings_:
        key = (r.period_start, r.period_end)
        if key not in last or last[key].id < r.id:
            last[key] = r
    chosen: list[Reading] = []
    longest_first = sorted(
        last.values(), key=lambda r: (r.period_start - r.period_end, r.period_end)
    )
    for r in longest_first:
        if all(r.period_end < c.period_start or c.period_end < r.period_start for c in chosen):
            chosen.append(r)
    return sorted(chosen, key=lambda r: r.period_end)


def value_of(
    mode: str, readings_: Iterable[Reading], *, start: date, end: date
) -> tuple[float | None, list[Reading]]:
    """A reported target's value from the reports of periods over by `end`, and the reports
    it rests on, by the target's `report_mode`:

    * `level`: the latest period's report (a rate, a share, a year's output…);
    * `period_sum`: the sum of the periods' reports from `start` (each period once);
    * `cumulative`: the latest report from `start` (the reports are running totals).
    """
    known = known_on(readings_, end)
    if mode == "level":
        last = latest(known)
        return (None, []) if last is None else (last.value, known)
    inside = [r for r in known if r.period_start >= start]
    if mode == "period_sum":
        parts = chosen_periods(inside)
        return (round(sum(r.value for r in parts), 4), parts) if parts else (None, [])
    last = latest(inside)
    return (None, []) if last is None else (last.value, inside)
