"""Coverage (`share`, 100 %) and one-off (`milestone`) commitments a department reports."""

from __future__ import annotations

from datetime import date

import pytest

from services.common.errors import Invalid
from services.events.progress import assess_reported
from services.events.reports import Reading, check_value, period_bounds
from services.events.targets import get_target

SURVEY = "drainage_facilities_survey"  # art. 50 完成全域排水设施排查


def reading(i: int, period: str, value: float, note: str | None = None) -> Reading:
    return Reading(i, value, *period_bounds(period), note)


def test_a_milestone_is_at_risk_until_reported_done_with_its_evidence():
    survey = get_target(SURVEY)
    assert assess_reported(survey, date(2024, 6, 1), [])["status"] == "no_data"
    not_yet = assess_reported(survey, date(2024, 6, 1), [reading(1, "2024-03", 0)])
    assert (not_yet["status"], not_yet["evidence"]) == ("at_risk", None)
    done = [reading(1, "2024-03", 0), reading(2, "2024-05", 1, "区住建局排查报告（2024年5月）")]
    view = assess_reported(survey, date(2024, 6, 1), done)
    assert (view["status"], view["status_label"]) == ("achieved", "达成")
    assert view["evidence"] == "区住建局排查报告（2024年5月）"
    assert (view["sdg_ratio"], view["sdg_category"]) == (None, None)


def test_after_the_deadline_a_milestone_is_met_or_missed():
    survey = get_target(SURVEY)
    late = [reading(1, "2026-02", 1, "排查报告")]  # done after the plan: does not count
    view = assess_reported(survey, date(2026, 6, 1), [reading(2, "2025-06", 0), *late])
    assert (view["status"], view["final"], view["after_plan"]["value"]) == ("missed", True, 1)
    met = assess_reported(survey, date(2026, 6, 1), [reading(3, "2025-11", 1, "验收意见")])
    assert met["status"] == "met" and met["evidence"] == "验收意见"


@pytest.mark.parametrize(
    ("target_id", "value", "note", "field"),
    [
        (SURVEY, 0.5, None, "value"),
        (SURVEY, 1, None, "note"),
        (SURVEY, 1, "  ", "note"),
        ("fitness_circle_coverage", 101, None, "value"),
        ("fitness_circle_coverage", -1, None, "value"),
    ],
)
def test_a_milestone_is_0_or_1_with_evidence_and_a_coverage_a_percentage(
    target_id, value, note, field
):
    with pytest.raises(Invalid) as refused:
        check_value(get_target(target_id), value, note)
    assert refused.value.errors[0]["loc"][-1] == field


def test_a_coverage_is_a_reported_level_judged_by_the_method():
    """10分钟健身圈: 60 % (2023) → 80 % (2024); 100 % by 2025 needs (100/60)^(1/2) − 1 =
    29.0994 %/yr, 33.3333 % was made: R = 0.333333/0.290994 = 1.1455 → on track."""
    circle = get_target("fitness_circle_coverage")
    view = assess_reported(
        circle, date(2025, 2, 1), [reading(1, "2023", 60), reading(2, "2024", 80)]
    )
    assert view["sdg_ratio"] == pytest.approx(1.1455, abs=1e-4)
    assert (view["status"], view["sdg_category"]) == ("on_track", "substantial_progress")
