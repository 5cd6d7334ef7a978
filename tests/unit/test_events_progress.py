"""Pace, status, SDG ratio and counting periods of targets: the pure rules."""

from __future__ import annotations

from datetime import date

import pytest

from services.events.counting import month_ends, period_of, point_of
from services.events.progress import (
    STATUS_LABELS,
    elapsed_fraction,
    expected_now,
    judge,
    progress_ratio,
)
from services.events.reports import Reading, earliest, known_on, latest, period_bounds
from services.events.targets import load_catalogue

W0, W1 = date(2023, 1, 1), date(2025, 12, 31)


def test_linear_pace_runs_from_the_baseline_to_the_target_over_the_window():
    assert expected_now(baseline=0, target=13, start=W0, end=W1, as_of=date(2022, 6, 1)) == 0
    assert expected_now(baseline=8, target=20, start=W0, end=W1, as_of=W1) == 20
    half = expected_now(baseline=0, target=1096, start=W0, end=W1, as_of=date(2024, 7, 1))
    assert half == pytest.approx(548)
    assert elapsed_fraction(W0, W1, date(2030, 1, 1)) == 1.0


@pytest.mark.parametrize(
    ("current", "expected", "forecast", "status"),
    [
        (10, 10, None, "on_track"),
        (9.5, 10, None, "on_track"),  # exactly 0.95 of the pace
        (9.4, 10, 13, "on_track"),  # short of the pace, but the pipeline reaches the target
        (9.4, 10, 12, "at_risk"),
        (6, 10, None, "at_risk"),  # exactly 0.6
        (5.9, 10, None, "behind"),
        (13, 20, None, "achieved"),
    ],
)
def test_status_thresholds_against_the_pace(current, expected, forecast, status):
    assert (
        judge(current=current, counted=1, target=13, expected=expected, forecast=forecast) == status
    )


def test_nothing_counted_is_no_data_and_a_ceiling_is_judged_downwards():
    assert judge(current=0, counted=0, target=13, expected=5, forecast=0) == "no_data"
    assert judge(current=None, counted=0, target=45, expected=None, forecast=None) == "no_data"
    ceiling = {"counted": 1, "target": 35, "forecast": None, "direction": "at_most"}
    assert judge(current=34, expected=40, **ceiling) == "achieved"
    assert judge(current=42, expected=40, **ceiling) == "on_track"  # 42 × 0.95 ≤ 40
    assert judge(current=60, expected=40, **ceiling) == "at_risk"
    assert judge(current=70, expected=40, **ceiling) == "behind"


def test_progress_is_current_over_target():
    assert progress_ratio(4, 13) == 0.3077
    assert progress_ratio(None, 13) is None


def test_every_status_has_the_pages_chinese_label():
    assert STATUS_LABELS == {
        "achieved": "达成",
        "on_track": "正常推进",
        "at_risk": "存在风险",
        "behind": "滞后",
        "no_data": "暂无数据",
        "met": "到期达成",
        "missed": "到期未达成",
    }


@pytest.mark.parametrize(
    ("period", "bounds"),
    [
        ("2024", (date(2024, 1, 1), date(2024, 12, 31))),
        ("2024-Q3", (date(2024, 7, 1), date(2024, 9, 30))),
        ("2024-Q4", (date(2024, 10, 1), date(2024, 12, 31))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2024-12", (date(2024, 12, 1), date(2024, 12, 31))),
    ],
)
def test_a_report_period_covers_its_year_quarter_or_month(period, bounds):
    assert period_bounds(period) == bounds


def test_the_latest_period_wins_and_a_re_report_replaces_its_value():
    reports = [
        Reading(1, 10, *period_bounds("2024-06")),
        Reading(2, 30, *period_bounds("2025-Q1")),
        Reading(3, 20, *period_bounds("2024")),
        Reading(4, 35, *period_bounds("2025-Q1")),
    ]
    assert latest(reports).value == 35
    assert earliest(reports).value == 10
    assert [r.id for r in known_on(reports, date(2024, 12, 30))] == [1]
    assert latest(known_on(reports, date(2024, 12, 31))).value == 20


def test_an_annual_target_counts_the_calendar_year_of_as_of():
    annual = next(t for t in load_catalogue() if t.measure == "annual")
    assert period_of(annual, date(2024, 5, 1)).start == date(2024, 1, 1)
    point = point_of(annual, date(2024, 5, 1))
    assert (point.lo, point.hi) == (date(2024, 1, 1), date(2024, 5, 1))
    after = point_of(annual, date(2027, 3, 1))  # past the window: its last year, whole
    assert (after.lo, after.hi) == (date(2025, 1, 1), date(2025, 12, 31))


def test_month_ends_cut_the_last_month_at_as_of():
    assert month_ends(date(2023, 1, 1), date(2023, 3, 15)) == [
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 15),
    ]
    assert month_ends(date(2023, 1, 1), date(2022, 12, 31)) == []
