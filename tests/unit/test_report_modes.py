"""Reported targets by their report_mode: a level is the latest period's figure, a period sum
adds the periods' figures within the window (each day once), a cumulative target reads the
latest running total. Worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from services.events.progress import assess_reported
from services.events.reports import Reading, chosen_periods, period_bounds, value_of
from services.events.targets import get_target, load_catalogue

W0 = date(2023, 1, 1)


def readings(*pairs: tuple[str, float]) -> list[Reading]:
    return [Reading(i, value, *period_bounds(p)) for i, (p, value) in enumerate(pairs, 1)]


def test_every_reported_target_declares_its_mode():
    reported = [t for t in load_catalogue() if t.source == "reported"]
    assert all(t.report_mode in ("level", "period_sum", "cumulative") for t in reported)
    modes = {t.id: t.report_mode for t in reported}
    assert modes["urban_new_jobs"] == "period_sum"  # 城镇新增就业3.6万人: a three-year total
    assert modes["role_models_selected"] == "period_sum"
    assert modes["young_talent_attracted_14th_fyp"] == "cumulative"
    assert modes["registered_unemployment_rate"] == "level"
    assert modes["graduate_startups_per_year"] == "level"  # 每年…160名: each year's students


def test_a_level_is_the_latest_periods_figure():
    got = value_of(
        "level", readings(("2023", 5.0), ("2024-Q2", 4.2)), start=W0, end=date(2024, 7, 1)
    )
    assert got[0] == 4.2


def test_a_period_sum_adds_each_day_once_and_a_longer_period_replaces_its_parts():
    found = readings(
        ("2023", 12000),
        ("2024-Q1", 2000),
        ("2024-Q2", 3500),
        ("2024-Q2", 3000),  # re-report of Q2: replaces 3500
        ("2024-05", 900),  # inside Q2: the quarter's figure stands for it
        ("2022", 9999),  # before the window: not part of it
    )
    value, parts = value_of("period_sum", found, start=W0, end=date(2024, 6, 30))
    assert value == 12000 + 2000 + 3000
    assert [(r.period_start.isoformat(), r.value) for r in parts] == [
        ("2023-01-01", 12000), ("2024-01-01", 2000), ("2024-04-01", 3000)
    ]  # fmt: skip
    with_year = [*found, Reading(9, 11000, *period_bounds("2024"))]
    assert value_of("period_sum", with_year, start=W0, end=date(2024, 12, 31))[0] == 23000
    assert len(chosen_periods(with_year)) == 3  # 2022, 2023, 2024: the quarters give way


def test_a_cumulative_target_reads_the_latest_running_total_from_the_window():
    found = readings(("2020", 7000), ("2021", 9000), ("2022", 19500), ("2023", 30000))
    value, used = value_of("cumulative", found, start=date(2021, 1, 1), end=date(2024, 1, 31))
    assert value == 30000 and len(used) == 3


def test_a_period_sum_target_is_paced_over_the_window():
    """城镇新增就业3.6万人: 12,000 in 2023 and 11,000 in 2024 is 23,000 on 2025-01-31; the pace
    expects 36,000 × 762/1096 = 25,029.2; 23,000 is below 0.95 × that (23,777.7) and above
    0.6 × (15,017.5): at risk."""
    jobs = get_target("urban_new_jobs")
    view = assess_reported(jobs, date(2025, 1, 31), readings(("2023", 12000), ("2024", 11000)))
    assert view["current_value"] == 23000 and view["report_mode"] == "period_sum"
    assert view["expected_now"] == pytest.approx(36000 * 762 / 1096, abs=1e-3)
    assert view["status"] == "at_risk"
    assert (view["sdg_ratio"], view["sdg_category"]) == (None, None)
    enough = assess_reported(jobs, date(2025, 1, 31), readings(("2023", 12000), ("2024", 12000)))
    assert enough["status"] == "on_track"  # 24,000 ≥ 0.95 × 25,029.2 = 23,777.7


def test_a_period_sum_reaching_its_total_is_achieved_and_met_after_the_deadline():
    jobs = get_target("urban_new_jobs")
    found = readings(("2023", 12000), ("2024", 12500), ("2025", 11800), ("2026", 13000))
    during = assess_reported(jobs, date(2025, 12, 31), found)
    assert (during["current_value"], during["status"]) == (36300, "achieved")
    after = assess_reported(jobs, date(2027, 3, 1), found)
    assert (after["status"], after["current_value"], after["final"]) == ("met", 36300, True)
    assert after["after_plan"]["value"] == 13000, "2026's jobs are after the plan"
