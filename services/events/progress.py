"""Progress of a target: linear pace, status, SDG growth ratio, forecast, and the whole view."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from services.events import counting, reports
from services.events.reports import Reading
from services.events.targets import Target

ON_TRACK = 0.95
"""At least this share of the linear pace (or a forecast that reaches the target), or an SDG
ratio at least this: on track."""
AT_RISK = 0.6
"""At least this share of the pace, or an SDG ratio at least this, short of ON_TRACK: at risk."""
LIMITED = 0.0
"""An SDG ratio at least this, short of AT_RISK: limited progress; below it: deterioration."""
ZERO_BASE = 0.001
"""The method's stand-in for a base value (or target) of 0, which has no growth rate."""

# The one place the service's Chinese status labels live (the pages' words).
STATUS_LABELS: dict[str, str] = {
    "achieved": "达成",
    "on_track": "正常推进",
    "at_risk": "存在风险",
    "behind": "滞后",
    "no_data": "暂无数据",
    "met": "到期达成",
    "missed": "到期未达成",
}
FINAL = ("met", "missed")
"""A target's status once its deadline has passed: the value on the deadline decides."""

# The published method's categories, its symbols' words, and the status each gives.
SDG_CATEGORIES: dict[str, tuple[str, str]] = {
    "target_achieved": ("目标已实现", "achieved"),
    "substantial_progress": ("进展显著", "on_track"),
    "moderate_progress": ("取得进展，仍需加快", "at_risk"),
    "limited_progress": ("进展有限", "behind"),
    "deterioration": ("倒退", "behind"),
    "not_assessable": ("数据不足，无法评估", "no_data"),
}

STATUS_RULES = f"""\
**status** is judged on `as_of`:

* After the deadline (`as_of` later than it) the status is final: `met` when the value on the
  deadline reached the target, `missed` otherwise (a reported target without a report for the
  window stays `no_data` until one comes). There is no forecast and no pace; what happened after
  the deadline is shown apart as `after_plan`, and counts for nothing.
* `no_data`: no value yet (a reported target without a report), or nothing counted (no project
  or enterprise makes up a counted target).
* `achieved`: the current value has reached the target (`≥`; `≤` for a ceiling, `direction:
  at_most`).
* Counted targets (projects, enterprises), and reported targets whose reports add up
  (`report_mode` `period_sum` or `cumulative`), are compared with `expected_now`, the linear pace
  `baseline + (target − baseline) × elapsed / window` (annual targets: over the current
  calendar year; a missing baseline counts as 0):
  `on_track` when current ≥ {ON_TRACK} × expected or the forecast reaches the target;
  `at_risk` when current ≥ {AT_RISK} × expected; `behind` below that. For a ceiling the
  comparison is mirrored (current ≤ expected / {ON_TRACK}, / {AT_RISK}).
* Reported levels (`report_mode: level`) are judged by the published SDG progress measure
  (Statistics Canada's method, as open-sdg's sdg-build implements it). Each year's value is
  the report of its latest period; the base is the plan's baseline (the year before the
  window) or else the earliest year reported, the current value the latest year. With whole
  years between them:
  CAGR_o = (y_t / y_0)^(1/(t − t0)) − 1, CAGR_r = (target / y_0)^(1/(T − t0)) − 1 (T the
  deadline's year), `sdg_ratio` R = d · CAGR_o / |CAGR_r| (d = +1 for a floor, −1 for a
  ceiling, the sign flipped for a negative base); a base of 0 counts as {ZERO_BASE}.
  `sdg_category`: `target_achieved`; R ≥ {ON_TRACK} `substantial_progress` (status
  `on_track`); R ≥ {AT_RISK} `moderate_progress` (`at_risk`); R ≥ {LIMITED}
  `limited_progress` (`behind`); R < {LIMITED} `deterioration` (`behind`); fewer than two
  years of data, or a base and a value of opposite signs, `not_assessable` (`no_data`).
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
* `reported`, by `report_mode`: `level` the report of the latest period over by `as_of`;
  `period_sum` the sum of the reports of the window's periods over by `as_of` (the latest
  report of each period; a longer period replaces the shorter ones inside it); `cumulative` the
  latest such report (running totals).
* after the deadline: the value on the deadline (a later cancellation, revocation or expiry
  does not undo what the window counted); what the same rule counts from the day after the
  deadline to `as_of` is `after_plan`.
* forecast: for projects, those counted plus those under way planned to reach the stage by
  the deadline, the deadline itself included (reserve projects planned in time shown apart as
  `forecast_reserve`); for a stock, the holders whose certificates still run on the deadline
  (the rest, `forecast_lapsing`, lapse unless renewed); otherwise the current value.
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


def growth(value: float, base: float, years: int) -> float:
    """Compound annual growth rate from `base` to `value` over whole `years`."""
    return (value / base) ** (1 / years) - 1


def sdg_ratio(
    *,
    base: float,
    base_year: int,
    current: float,
    current_year: int,
    target: float,
    target_year: int,
    direction: str = "at_least",
) -> float | None:
    """R = sign · d · CAGR_o / |CAGR_r| (the published method); None where it is not assessable.

    A base or target of 0 counts as ZERO_BASE; fewer than one whole year between the base and
    the current value, a target year not after the base year, or a base and a current value of
    opposite signs are not assessable. A required growth of 0 (the base is the target) and a
    value moving away from it gives ±inf."""
    if current_year - base_year < 1 or target_year - base_year < 1:
        return None
    sign = -1 if base < 0 else 1
    base = base or ZERO_BASE
    target = target or ZERO_BASE
    if (base > 0 > current) or (base < 0 < current):
        return None
    observed = growth(current, base, current_year - base_year)
    required = growth(target, base, target_year - base_year)
    d = -1 if direction == "at_most" else 1
    if required == 0:
        return math.copysign(math.inf, sign * d * observed) if observed else 0.0
    return sign * d * observed / abs(required)


def sdg_category(ratio: float | None, *, achieved: bool) -> str:
    """The method's category: achieved first, then the thresholds ≥0.95, ≥0.6, ≥0, <0."""
    if achieved:
        return "target_achieved"
    if ratio is None:
        return "not_assessable"
    if ratio >= ON_TRACK:
        return "substantial_progress"
    if ratio >= AT_RISK:
        return "moderate_progress"
    if ratio >= LIMITED:
        return "limited_progress"
    return "deterioration"


def judge(
    *,
    current: float | None,
    counted: int,
    target: float,
    expected: float | None,
    forecast: float | None,
    direction: str = "at_least",
) -> str:
    """A counted target's status against the linear pace, by the rules of STATUS_RULES."""
    if current is None or counted == 0:
        return "no_data"
    if reached(current, target, direction):
        return "achieved"
    if expected is None:
        return "no_data"
    if direction == "at_most":
        if current * ON_TRACK <= expected or (forecast is not None and forecast <= target):
            return "on_track"
        return "at_risk" if current * AT_RISK <= expected else "behind"
    if current >= ON_TRACK * expected or (forecast is not None and forecast >= target):
        return "on_track"
    return "at_risk" if current >= AT_RISK * expected else "behind"


def judge_final(*, value: float | None, target: float, direction: str) -> str:
    """A closed target's status: the value on its deadline met the target or missed it."""
    if value is None:
        return "no_data"
    return "met" if reached(value, target, direction) else "missed"


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
        "report_mode": target.report_mode,
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
    if target.source == "projects":
        under_way, reserve = counting.pipeline(conn, generation, target, as_of, end)
        return Forecast(_count(target, current + under_way), _count(target, reserve))
    if target.measure == "stock":
        held = counting.holding_through(conn, generation, target, as_of, end)
        return Forecast(held, None, current - held)
    return Forecast(current)


def closed(target: Target, as_of: date) -> bool:
    """Whether the target's window is over on `as_of`: its status is then final."""
    return as_of > target.deadline


def assess_counted(
    conn: Connection, generation: int, target: Target, as_of: date
) -> dict[str, Any]:
    """A project or enterprise target on `as_of`: value, pace, forecast, status; after the
    deadline the value on the deadline and a final status."""
    on = min(as_of, target.deadline)
    period = counting.period_of(target, on)
    points = [counting.point_of(target, on)]
    growth_from_count = target.measure == "stock" and target.baseline_value is None
    if growth_from_count:
        points.append(counting.point_of(target, target.window.start))
    found = counting.values(conn, generation, target, points)
    amount, counted = found[0]
    current = _count(target, amount + _offset(target))
    sdg = None
    if target.measure == "stock":
        base = found[1][0] if growth_from_count else target.baseline_value
        sdg = sdg_ratio(
            base=float(base or 0),
            base_year=target.window.start.year - 1,
            current=current,
            current_year=on.year,
            target=target.target_value,
            target_year=target.deadline.year,
            direction=target.direction,
        )
    if closed(target, as_of):
        after = after_plan_counted(conn, generation, target, as_of, current)
        status = judge_final(value=current, target=target.target_value, direction=target.direction)
        return _view(target, as_of, current, None, Forecast(None), status, sdg, counted, after)
    annual = target.measure == "annual"
    expected = expected_now(
        baseline=0 if annual else (target.baseline_value or 0),
        target=target.target_value,
        start=period.start,
        end=period.end,
        as_of=as_of,
    )
    ahead = forecast(conn, generation, target, as_of, current)
    status = judge(
        current=current,
        counted=counted,
        target=target.target_value,
        expected=expected,
        forecast=ahead.value,
        direction=target.direction,
    )
    return _view(target, as_of, current, expected, ahead, status, sdg, counted, None)


def after_plan_counted(
    conn: Connection, generation: int, target: Target, as_of: date, final: float
) -> dict[str, Any]:
    """What the target's rule counts after its deadline, up to `as_of`, outside the plan:
    for a stock the change in holders since the deadline, otherwise what was added after it."""
    since = target.deadline + timedelta(days=1)
    if target.measure == "stock":
        ((held, _),) = counting.values(
            conn, generation, target, [counting.Point(as_of, since, as_of)]
        )
        value = _count(target, held + _offset(target)) - final
    else:
        ((value, _),) = counting.values(
            conn, generation, target, [counting.Point(as_of, since, as_of)]
        )
        value = _count(target, value)
    return {"since": since, "to": as_of, "value": value}


def yearly(readings: list[Reading]) -> list[tuple[int, float]]:
    """Each year's value, oldest first: the report of the year's latest period."""
    by_year: dict[int, list[Reading]] = {}
    for reading in readings:
        by_year.setdefault(reading.period_end.year, []).append(reading)
    out = []
    for year in sorted(by_year):
        last = reports.latest(by_year[year])
        assert last is not None
        out.append((year, last.value))
    return out


def reported_ratio(target: Target, known: list[Reading]) -> float | None:
    """The published method's ratio over the reported years (None: not assessable)."""
    years = yearly(known)
    if not years:
        return None
    base_year, base = years[0]
    if target.baseline_value is not None:
        base_year, base = target.window.start.year - 1, float(target.baseline_value)
    current_year, current = years[-1]
    return sdg_ratio(
        base=base,
        base_year=base_year,
        current=current,
        current_year=current_year,
        target=target.target_value,
        target_year=target.deadline.year,
        direction=target.direction,
    )


def reported_on(
    target: Target, readings: list[Reading], end: date
) -> tuple[float | None, list[Reading]]:
    """A reported target's value from the reports of periods over by `end`, by its mode."""
    mode = target.report_mode or "level"
    return reports.value_of(mode, readings, start=target.window.start, end=end)


def _method_applies(target: Target) -> bool:
    """The published method judges levels: reported levels, and stocks (shown beside pace)."""
    if target.measure == "milestone":
        return False
    return target.measure == "stock" or target.report_mode == "level"


def assess_reported(target: Target, as_of: date, readings: list[Reading]) -> dict[str, Any]:
    """A reported target on `as_of` (see _assess_reported); a milestone with its evidence."""
    view = _assess_reported(target, as_of, readings)
    if target.measure == "milestone":
        _, used = reported_on(target, readings, min(as_of, target.deadline))
        last = reports.latest(used)
        view["evidence"] = None if last is None or last.value < 1 else last.note
    return view


def _assess_reported(target: Target, as_of: date, readings: list[Reading]) -> dict[str, Any]:
    """A reported target on `as_of` by its report_mode: a level is judged by the published
    method, a period sum or running total against the linear pace; after the deadline the
    value for the window and a final status."""
    on = min(as_of, target.deadline)
    current, used = reported_on(target, readings, on)
    level = target.report_mode == "level" and target.measure != "milestone"
    sdg = reported_ratio(target, used) if level else None
    if target.measure == "milestone" and not closed(target, as_of):
        status = "no_data" if current is None else "achieved" if current >= 1 else "at_risk"
        return _view(target, as_of, current, None, Forecast(None), status, None, len(used), None)
    if closed(target, as_of):
        since = target.deadline + timedelta(days=1)
        later = [r for r in readings if r.period_start >= since]
        mode = target.report_mode or "level"
        value, _ = reports.value_of(mode, later, start=since, end=as_of)
        after = None if value is None else {"since": since, "to": as_of, "value": value}
        status = judge_final(value=current, target=target.target_value, direction=target.direction)
        return _view(target, as_of, current, None, Forecast(None), status, sdg, len(used), after)
    if not level:
        expected = expected_now(
            baseline=target.baseline_value or 0,
            target=target.target_value,
            start=target.window.start,
            end=target.deadline,
            as_of=as_of,
        )
        status = judge(
            current=current,
            counted=len(used),
            target=target.target_value,
            expected=expected,
            forecast=None,
            direction=target.direction,
        )
        ahead = Forecast(None)
        return _view(target, as_of, current, expected, ahead, status, None, len(used), None)
    expected = None
    if target.baseline_value is not None:
        expected = expected_now(
            baseline=target.baseline_value,
            target=target.target_value,
            start=target.window.start,
            end=target.deadline,
            as_of=as_of,
        )
    status = "no_data"
    if current is not None:
        achieved = reached(current, target.target_value, target.direction)
        status = SDG_CATEGORIES[sdg_category(sdg, achieved=achieved)][1]
    return _view(target, as_of, current, expected, Forecast(None), status, sdg, len(used), None)


def _view(
    target: Target,
    as_of: date,
    current: float | None,
    expected: float | None,
    ahead: Forecast,
    status: str,
    sdg: float | None,
    counted: int,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    achieved = current is not None and reached(current, target.target_value, target.direction)
    category = sdg_category(sdg, achieved=achieved) if _method_applies(target) else None
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
        "final": status in FINAL,
        "sdg_ratio": None if sdg is None or not math.isfinite(sdg) else round(sdg, 4),
        "sdg_category": category,
        "sdg_category_label": None if category is None else SDG_CATEGORIES[category][0],
        "counted": counted,
        "after_plan": after,
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
        values = [reported_on(target, readings, end)[0] for end in ends]
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
        final_point = counting.point_of(target, min(as_of, target.deadline))
        people = counting.contributors(conn, generation, target, final_point, limit)
        if view["after_plan"] is not None and target.measure != "stock":
            since = view["after_plan"]["since"]
            later = counting.Point(as_of, since, as_of)
            view["after_plan"]["contributors"] = counting.contributors(
                conn, generation, target, later, limit
            )
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
