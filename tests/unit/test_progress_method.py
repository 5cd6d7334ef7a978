"""The published SDG progress measure (Statistics Canada's method, as open-sdg's sdg-build
implements it), case by case. Every expected ratio below was worked out by hand from the
method's formulas, shown beside it:

    CAGR_o = (y_t / y_0)^(1/(t − t0)) − 1      CAGR_r = (target / y_0)^(1/(T − t0)) − 1
    R = sign(y_0) · d · CAGR_o / |CAGR_r|      d = +1 floor (at least), −1 ceiling (at most)
    base 0 → 0.001; fewer than two years → not assessable; R ≥ 0.95 / ≥ 0.6 / ≥ 0 / < 0;
    a value at the target is achieved whatever R says.
"""

from __future__ import annotations

import math
from datetime import date

import pytest

from services.events.progress import (
    SDG_CATEGORIES,
    assess_reported,
    sdg_category,
    sdg_ratio,
)
from services.events.reports import Reading, period_bounds
from services.events.targets import get_target

CASES = [
    # (what, base, base_year, current, current_year, target, direction, R, category)
    (
        "floor on pace: 100→121 in 2 years is 10 %/yr; 133.1 in 3 years needs 10 %/yr",
        100, 2022, 121, 2024, 133.1, "at_least", 1.0, "substantial_progress",
    ),
    (
        "floor, moderate: 100→107 is 7 %; 121 in 2 years needs √1.21 − 1 = 10 %",
        100, 2023, 107, 2024, 121, "at_least", 0.7, "moderate_progress",
    ),
    (
        "floor, limited: 100→104 is 4 % of the 10 % needed",
        100, 2023, 104, 2024, 121, "at_least", 0.4, "limited_progress",
    ),
    (
        "floor, regression: 100→90 is −10 % where +10 % is needed",
        100, 2023, 90, 2024, 121, "at_least", -1.0, "deterioration",
    ),
    (
        "ceiling improving: 5→4.5 is −10 %; 4 in 2 years needs √0.8 − 1 = −0.1055728; "
        "R = −(−0.1)/0.1055728 = 0.9472136, just short of 0.95",
        5, 2023, 4.5, 2024, 4, "at_most", 0.9472136, "moderate_progress",
    ),
    (
        "ceiling, base already past the target and getting worse (unemployment 3.5 % → 4.6 %, "
        "ceiling 4 %): CAGR_o = 4.6/3.5 − 1 = 0.3142857; CAGR_r = √(4/3.5) − 1 = 0.0690450; "
        "R = −0.3142857/0.0690450 = −4.5519",
        3.5, 2023, 4.6, 2024, 4, "at_most", -4.5519, "deterioration",
    ),
    (
        "floor, base already past the target and getting worse (air quality 92 % → 80 %, "
        "at least 89 %): CAGR_o = 80/92 − 1 = −0.1304348; CAGR_r = √(89/92) − 1 = −0.0164395; "
        "R = +1 · −0.1304348/|−0.0164395| = −7.9342",
        92, 2023, 80, 2024, 89, "at_least", -7.9342, "deterioration",
    ),
    (
        "base 0 counts as 0.001: CAGR_o = 5/0.001 − 1 = 4999; CAGR_r = √(10/0.001) − 1 = 99; "
        "R = 4999/99 = 50.4949",
        0, 2023, 5, 2024, 10, "at_least", 50.4949, "substantial_progress",
    ),
    (
        "negative base, rising towards −2: sign −1; CAGR_o = −5/−10 − 1 = −0.5; "
        "CAGR_r = √(−2/−10) − 1 = −0.5527864; R = −1 · −0.5/0.5527864 = 0.9045085",
        -10, 2023, -5, 2024, -2, "at_least", 0.9045085, "moderate_progress",
    ),
    (
        "whole years: three years of 10 % is 133.1; 5 years to 161.051 need 10 % too",
        100, 2020, 133.1, 2023, 161.051, "at_least", 1.0, "substantial_progress",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("base", "base_year", "current", "current_year", "target", "direction", "ratio", "category"),
    [case[1:] for case in CASES],
    ids=[case[0].split(":")[0] for case in CASES],
)
def test_the_ratio_and_category_match_the_hand_worked_cases(
    base, base_year, current, current_year, target, direction, ratio, category
):
    got = sdg_ratio(
        base=base,
        base_year=base_year,
        current=current,
        current_year=current_year,
        target=target,
        target_year=2025,
        direction=direction,
    )
    assert got == pytest.approx(ratio, abs=5e-5)
    assert sdg_category(got, achieved=False) == category


@pytest.mark.parametrize(
    ("ratio", "category", "status"),
    [
        (0.95, "substantial_progress", "on_track"),
        (0.9499, "moderate_progress", "at_risk"),
        (0.6, "moderate_progress", "at_risk"),
        (0.5999, "limited_progress", "behind"),
        (0.0, "limited_progress", "behind"),
        (-0.0001, "deterioration", "behind"),
        (None, "not_assessable", "no_data"),
    ],
)
def test_the_thresholds_are_inclusive_at_095_06_and_0(ratio, category, status):
    assert sdg_category(ratio, achieved=False) == category
    assert SDG_CATEGORIES[category][1] == status


def test_a_value_at_the_target_is_achieved_whatever_the_ratio():
    assert sdg_category(-3.0, achieved=True) == "target_achieved"
    assert sdg_category(None, achieved=True) == "target_achieved"
    assert SDG_CATEGORIES["target_achieved"][1] == "achieved"


def test_fewer_than_two_years_or_opposite_signs_are_not_assessable():
    common = {"base": 10, "target": 20, "target_year": 2025}
    assert sdg_ratio(base_year=2024, current=15, current_year=2024, **common) is None
    assert sdg_ratio(base_year=2025, current=15, current_year=2026, **common) is None
    assert sdg_ratio(base=5, base_year=2023, current=-1, current_year=2024, target=9,
                     target_year=2025) is None  # fmt: skip


def test_a_base_equal_to_the_target_and_moving_away_is_deterioration():
    away = sdg_ratio(base=4, base_year=2023, current=5, current_year=2024, target=4,
                     target_year=2025, direction="at_most")  # fmt: skip
    assert away == -math.inf
    assert sdg_category(away, achieved=False) == "deterioration"


def readings(*pairs: tuple[str, float]) -> list[Reading]:
    return [Reading(i, value, *period_bounds(p)) for i, (p, value) in enumerate(pairs, 1)]


def test_a_worsening_ceiling_reported_target_is_deterioration_not_on_track():
    """The demo's registered unemployment (ceiling 4 %): 3.5 then 4.6 is behind, R −4.5519."""
    target = get_target("registered_unemployment_rate")
    view = assess_reported(target, date(2025, 3, 1), readings(("2023", 3.5), ("2024", 4.6)))
    assert (view["status"], view["sdg_category"]) == ("behind", "deterioration")
    assert view["sdg_ratio"] == pytest.approx(-4.5519, abs=1e-4)
    air = get_target("air_quality_good_rate")
    view = assess_reported(air, date(2025, 3, 1), readings(("2023", 92), ("2024", 80)))
    assert (view["status"], view["sdg_ratio"]) == ("behind", pytest.approx(-7.9342, abs=1e-4))


def test_one_reported_year_is_not_assessable_and_a_year_is_its_latest_period():
    air = get_target("air_quality_good_rate")
    one_year = readings(("2024-03", 70), ("2024-Q2", 75), ("2024-11", 80))
    view = assess_reported(air, date(2025, 1, 1), one_year)
    assert view["current_value"] == 80
    assert (view["status"], view["sdg_category"], view["sdg_ratio"]) == (
        "no_data",
        "not_assessable",
        None,
    )
    # 2024's value is its latest period (80), 2025's its latest (84.8): 6 %/yr where
    # (89/80)^(1/1) − 1 = 11.25 % is needed: R = 0.06/0.1125 = 0.5333 → limited, behind.
    more = [*one_year, *readings(("2025-06", 84.8))]
    more[-1] = Reading(9, 84.8, *period_bounds("2025-06"))
    view = assess_reported(air, date(2025, 7, 1), more)
    assert view["sdg_ratio"] == pytest.approx(0.5333, abs=1e-4)
    assert (view["status"], view["sdg_category"]) == ("behind", "limited_progress")


def test_a_reported_value_at_the_target_is_achieved():
    air = get_target("air_quality_good_rate")
    view = assess_reported(air, date(2025, 1, 1), readings(("2023", 92), ("2024", 90)))
    assert (view["status"], view["sdg_category"]) == ("achieved", "target_achieved")
    assert view["sdg_ratio"] == pytest.approx((90 / 92 - 1) / (1 - math.sqrt(89 / 92)), abs=1e-4)
