"""Progress of a target: linear pace, status, SDG growth ratio, forecast, and the whole view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from services.events import counting, reports
from services.events.reports import Reading
from services.events.targets import Target

ON_TRACK = 0.95
"""At least this share of the linear pace (or a forecast that reaches the target): on track."""
AT_RISK = 0.6
"""At least this share of the pace, short of ON_TRACK: at risk; below it: behind."""
DAYS_PER_YEAR = 365.25

# The one place the service's Chinese status labels live.
STATUS_LABELS: dict[str, str] = {
    "achieved": "已完成",
    "on_track": "进度正常",
    "at_risk": "存在风险",
    "behind": "进度滞后",
    "no_data": "暂无数据",
}

STATUS_RULES = f"""\
**status** is judged on `as_of`, in this order:

* `no_data`: no value yet (a reported target without a report), or nothing counted (no project
  or enterprise makes up a counted target).
* `achieved`: the current value has reached the target (`≥`; `≤` for a ceiling, `direction:
  at_most`).
* Otherwise the current value is compared with `expected_now`, the linear pace
  `baseline + (target − baseline) × elapsed / window` (annual targets: over the current
  calendar year; a missing baseline counts as 0 for counted targets):
  `on_track` when current ≥ {ON_TRACK} × expected or the forecast reaches the target;
  `at_risk` when current ≥ {AT_RISK} × expected; `behind` below that. For a ceiling the
  comparison is mirrored (current ≤ expected / {ON_TRACK}, / {AT_RISK}).
* A reported target without a baseline has no linear pace; it is judged by the UN SDG ratio
  `sdg_ratio` = observed CAGR / required CAGR (first report or baseline → latest report):
  ≥ {ON_TRACK} on_track, ≥ {AT_RISK} at_risk, below behind; with a single report it is
  `at_risk` (short of the target, pace unknown).
"""


COUNTING_RULES = """\
**Counting** is by business dates (a transition's `on`, a certificate's `granted_on`…), never
by when an event was processed, so `as_of` answers exactly for any past date:

* projects count from the day they reach the target's stage or a later one (a skipped stage
  is passed through), inside the window; a cancelled project stops counting from its
  cancellation; `sum` adds the projects' `quantity` in the target's unit.
* `stock`: enterprises holding a matching designation on `as_of` (from `granted_on`, through
  `expires_on` inclusive, until the day it is revoked); each enterprise once.
* `new`: enterprises granted a matching designation inside the window, each once (a renewal
  adds none; a revoked grant stops counting from its revocation); `annual`: the same within
  the calendar year of `as_of`; `landed` selectors count enterprises by `landed_on`.
* `reported`: the report of the latest period over by `as_of`.
* forecast: for projects, those counted plus those under way planned to reach the stage by
  the deadline (reserve projects planned in time shown apart as `forecast_reserve`); for a
  stock, the holders whose certificates still run on the deadline (the rest,
  `forecast_lapsing`, lapse unless renewed); otherwise the current value.
"""


def elapsed_fraction(start: date, end: date, as_of: date) -> float:
    """How much of [start, end] has passed on `as_of`, from 0 to 1 (both days inclusive)."""
    total = (end - start).days + 1
    done = (as_of - start).days + 1
    return min(1.0, max(0.0, done / total))


def expected_now(*, baseline: float, target: float, start: date, end: date, as_of: date) -> float:
    """The value a linear pace from `baseline` at `start` to `target` at `end` has on `as_of`."""
    return baseline + (target - baseline) * elapsed_fraction(start, end, as_of)


def progress_ratio(current: float | None, target: float) -> float | None:
    """current / target, rounded to four places."""
    if current is None or not target:
        return None
    return round(current / target, 4)


def reached(current: float, target: float, direction: str) -> bool:
    return current <= target if direction == "at_most" else current >= target


def sdg_ratio(
    *, y0: float, t0: date, yt: float, t: date, target: float, deadline: date
) -> float | None:
    """Observed CAGR over required CAGR (open-sdg's method); None where it is not defined."""
    years_done = (t - t0).days / DAYS_PER_YEAR
    years_all = (deadline - t0).days / DAYS_PER_YEAR
    if y0 <= 0 or yt <= 0 or target <= 0 or target == y0 or years_done <= 0 or years_all <= 0:
        return None
    observed = (yt / y0) ** (1 / years_done) - 1
    required = (target / y0) ** (1 / years_all) - 1
    if required == 0:
        return None
    return round(observed / required, 4)


def judge(
    *,
    current: float | None,
    counted: int,
    target: float,
    expected: float | None,
    forecast: float | None,
    direction: str = "at_least",
    sdg: float | None = None,
) -> str:
    """The target's status by the rules of STATUS_RULES."""
    if current is None or counted == 0:
        return "no_data"
    if reached(current, target, direction):
        return "achieved"
    if expected is not None:
        return _against_pace(current, target, expected, forecast, direction)
    if sdg is not None:
        return "on_track" if sdg >= ON_TRACK else "at_risk" if sdg >= AT_RISK else "behind"
    return "at_risk"


def _against_pace(
    current: float, target: float, expected: float, forecast: float | None, direction: str
) -> str:
    if direction == "at_most":
        if current * ON_TRACK <= expected or (forecast is not None and forecast <= target):
            return "on_track"
        return "at_risk" if current * AT_RISK <= expected else "behind"
    if current >= ON_TRACK * expected or (forecast is not None and forecast >= target):
        return "on_track"
    return "at_risk" if current >= AT_RISK * expected else "behind"


# --- a target's whole view on a date -----------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    value: float | None
    reserve: float | None = None
    lapsing: float | None = None


def catalogue_fields(target: Target) -> dict[str, Any]:
    return {
        "id": target.id,
        "clause": target.clause,
        "chapter": target.chapter,
        "title": target.title,
        "unit": target.unit,
        "target_value": target.target_value,
        "baseline_value": target.baseline_value,
        "window_start": target.window.start,
        "deadline": target.deadline,
        "measure": target.measure,
        "source": target.source,
        "direction": target.direction,
        "note": target.note,
    }


def _offset(target: Target) -> float:
    """What a cumulative count starts from: the plan's baseline for new and sum targets."""
    if target.measure in ("new", "sum") and target.baseline_value is not None:
        return target.baseline_value
    return 0


def _count(target: Target, value: float) -> float:
    return round(value, 4) if target.measure == "sum" else int(value)


def forecast(
    conn: Connection, generation: int, target: Target, as_of: date, current: float
) -> Forecast:
    """What the target reaches by its deadline (an annual target: by the year's end)."""
    end = counting.period_of(target, as_of).end
    offset = _offset(target)
    if as_of >= end:
        final, _ = counting.values(conn, generation, target, [counting.point_of(target, end)])[0]
        return Forecast(_count(target, final + offset), 0 if target.source == "projects" else None)
    if target.source == "projects":
        under_way, reserve = counting.pipeline(conn, generation, target, as_of, end)
        return Forecast(_count(target, current + under_way), _count(target, reserve))
    if target.measure == "stock":
        held = counting.holding_through(conn, generation, target, as_of, end)
        return Forecast(held, None, current - held)
    return Forecast(current)


def assess_counted(
    conn: Connection, generation: int, target: Target, as_of: date
) -> dict[str, Any]:
    """A project or enterprise target on `as_of`: value, pace, forecast, status."""
    period = counting.period_of(target, as_of)
    points = [counting.point_of(target, as_of)]
    growth_from_count = target.measure == "stock" and target.baseline_value is None
    if growth_from_count:
        points.append(counting.point_of(target, target.window.start))
    found = counting.values(conn, generation, target, points)
    amount, counted = found[0]
    current = _count(target, amount + _offset(target))
    annual = target.measure == "annual"
    baseline = 0 if annual else (target.baseline_value or 0)
    expected = expected_now(
        baseline=baseline,
        target=target.target_value,
        start=period.start,
        end=period.end,
        as_of=as_of,
    )
    ahead = forecast(conn, generation, target, as_of, current)
    sdg = None
    y0 = found[1][0] if growth_from_count else target.baseline_value
    if not annual and y0 is not None:
        sdg = sdg_ratio(
            y0=y0,
            t0=target.window.start,
            yt=current,
            t=min(as_of, target.deadline),
            target=target.target_value,
            deadline=target.deadline,
        )
    status = judge(
        current=current,
        counted=counted,
        target=target.target_value,
        expected=expected,
        forecast=ahead.value,
        direction=target.direction,
        sdg=sdg,
    )
    return _view(target, as_of, current, expected, ahead, status, sdg, counted)


def assess_reported(target: Target, as_of: date, readings: list[Reading]) -> dict[str, Any]:
    """A reported target on `as_of`: the latest period's report, paced from its baseline."""
    known = reports.known_on(readings, as_of)
    last = reports.latest(known)
    current = None if last is None else last.value
    expected = None
    if target.baseline_value is not None:
        expected = expected_now(
            baseline=target.baseline_value,
            target=target.target_value,
            start=target.window.start,
            end=target.deadline,
            as_of=as_of,
        )
    sdg = None
    if last is not None:
        first = reports.earliest(known)
        y0, t0 = (target.baseline_value, target.window.start)
        if y0 is None and first is not None and first.id != last.id:
            y0, t0 = first.value, first.period_end
        if y0 is not None:
            sdg = sdg_ratio(
                y0=y0,
                t0=t0,
                yt=last.value,
                t=last.period_end,
                target=target.target_value,
                deadline=target.deadline,
            )
    status = judge(
        current=current,
        counted=len(known),
        target=target.target_value,
        expected=expected,
        forecast=None,
        direction=target.direction,
        sdg=sdg,
    )
    return _view(target, as_of, current, expected, Forecast(None), status, sdg, len(known))


def _view(
    target: Target,
    as_of: date,
    current: float | None,
    expected: float | None,
    ahead: Forecast,
    status: str,
    sdg: float | None,
    counted: int,
) -> dict[str, Any]:
    return catalogue_fields(target) | {
        "as_of": as_of,
        "current_value": current,
        "progress": progress_ratio(current, target.target_value),
        "expected_now": None if expected is None else round(expected, 4),
        "forecast": ahead.value,
        "forecast_reserve": ahead.reserve,
        "forecast_lapsing": ahead.lapsing,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "sdg_ratio": sdg,
        "counted": counted,
    }


def assess_all(
    conn: Connection, targets: list[Target], as_of: date, generation: int
) -> list[dict[str, Any]]:
    """Every given target on `as_of`, from `generation`'s facts."""
    found = reports.readings(conn, (t.id for t in targets if t.source == "reported"))
    return [
        assess_reported(t, as_of, found.get(t.id, []))
        if t.source == "reported"
        else assess_counted(conn, generation, t, as_of)
        for t in targets
    ]


def series(
    conn: Connection, generation: int, target: Target, as_of: date, readings: list[Reading]
) -> list[dict[str, Any]]:
    """The value at the end of every month of the window, up to `as_of`."""
    ends = counting.month_ends(target.window.start, min(as_of, target.window.end))
    if not ends:
        return []
    if target.source == "reported":
        values = []
        for end in ends:
            last = reports.latest(reports.known_on(readings, end))
            values.append(None if last is None else last.value)
    else:
        points = [counting.point_of(target, end) for end in ends]
        offset = _offset(target)
        found = counting.values(conn, generation, target, points)
        values = [_count(target, v + offset) for v, _ in found]
    return [
        {"month": end.strftime("%Y-%m"), "value": v} for end, v in zip(ends, values, strict=True)
    ]


def detail(
    conn: Connection, generation: int, target: Target, as_of: date, *, limit: int
) -> dict[str, Any]:
    """One target on `as_of` with its contributors and monthly series."""
    readings = reports.readings(conn, [target.id]).get(target.id, [])
    if target.source == "reported":
        view = assess_reported(target, as_of, readings)
        people: list[dict[str, Any]] = []
    else:
        view = assess_counted(conn, generation, target, as_of)
        people = counting.contributors(conn, generation, target, as_of, limit)
    selector = None if target.selector is None else target.selector.model_dump(exclude_none=True)
    return view | {
        "selector": selector,
        "contributors": people,
        "contributors_total": 0 if target.source == "reported" else view["counted"],
        "series": series(conn, generation, target, as_of, readings),
    }


def summary(
    conn: Connection, targets: list[Target], as_of: date, generation: int
) -> dict[str, Any]:
    """The dashboard overview's targets, status counts, designations and pipeline, in one go."""
    items = assess_all(conn, targets, as_of, generation)
    by_status = dict.fromkeys(STATUS_LABELS, 0)
    for item in items:
        by_status[item["status"]] += 1
    return {
        "as_of": as_of,
        "total": len(items),
        "by_status": by_status,
        "items": items,
        "designations_by_type": counting.designations_by_type(conn, generation, as_of),
        "pipeline_by_stage_category": counting.pipeline_by_stage_category(conn, generation, as_of),
    }
