"""The stage machine: forward only (skips allowed), cancel unless built, dates in order."""

from __future__ import annotations

from datetime import date

import pytest

from services.projects.stages import (
    STAGE_ORDER,
    IllegalTransition,
    UnknownStage,
    allowed_targets,
    check_transition,
    skipped_stages,
)

TODAY = date(2024, 6, 1)
ON = date(2024, 5, 1)


def test_stage_order_is_the_rolling_pipeline() -> None:
    assert STAGE_ORDER == ("reserve", "starting", "building", "built")


@pytest.mark.parametrize(
    ("current", "to"),
    [
        ("reserve", "starting"),
        ("starting", "building"),
        ("building", "built"),
        ("reserve", "building"),
        ("reserve", "built"),
        ("starting", "built"),
    ],
)
def test_forward_moves_including_skips_are_allowed(current: str, to: str) -> None:
    check_transition(current, to, ON, last_transition_on=None, today=TODAY)


@pytest.mark.parametrize("current", ["reserve", "starting", "building"])
def test_cancelling_is_allowed_from_any_stage_before_built(current: str) -> None:
    check_transition(current, "cancelled", ON, today=TODAY)


@pytest.mark.parametrize(
    ("current", "to"),
    [("starting", "reserve"), ("building", "starting"), ("building", "reserve")],
)
def test_transition_backwards_is_refused(current: str, to: str) -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(current, to, ON, today=TODAY)
    assert err.value.status == 409
    assert "forward only" in err.value.detail
    assert err.value.errors[0]["loc"] == ["to"]


@pytest.mark.parametrize("to", ["reserve", "starting", "building", "cancelled"])
def test_nothing_leaves_built(to: str) -> None:
    with pytest.raises(IllegalTransition, match="final stage"):
        check_transition("built", to, ON, today=TODAY)


@pytest.mark.parametrize("to", ["reserve", "starting", "building", "built"])
def test_nothing_leaves_cancelled(to: str) -> None:
    with pytest.raises(IllegalTransition, match="final stage"):
        check_transition("cancelled", to, ON, today=TODAY)


def test_moving_to_the_same_stage_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="already"):
        check_transition("building", "building", ON, today=TODAY)


def test_transition_in_the_future_is_refused() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition("reserve", "starting", date(2024, 6, 2), today=TODAY)
    assert "future" in err.value.detail
    assert err.value.errors[0]["loc"] == ["on"]


def test_transition_today_is_allowed() -> None:
    check_transition("reserve", "starting", TODAY, today=TODAY)


def test_transition_before_the_previous_one_is_refused() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(
            "starting",
            "building",
            date(2024, 3, 1),
            last_transition_on=date(2024, 4, 1),
            today=TODAY,
        )
    assert "2024-04-01" in err.value.detail
    assert err.value.errors[0]["loc"] == ["on"]


def test_transition_on_the_same_day_as_the_previous_one_is_allowed() -> None:
    check_transition("starting", "building", ON, last_transition_on=ON, today=TODAY)


def test_unknown_stage_is_invalid_input_not_a_conflict() -> None:
    with pytest.raises(UnknownStage) as err:
        check_transition("reserve", "finished", ON, today=TODAY)
    assert err.value.status == 422


def test_skipped_stages_are_reported() -> None:
    assert skipped_stages("reserve", "built") == ("starting", "building")
    assert skipped_stages("reserve", "starting") == ()
    assert skipped_stages("starting", "cancelled") == ()


def test_allowed_targets_follow_the_rules() -> None:
    assert allowed_targets("reserve") == ("starting", "building", "built", "cancelled")
    assert allowed_targets("building") == ("built", "cancelled")
    assert allowed_targets("built") == ()
    assert allowed_targets("cancelled") == ()
