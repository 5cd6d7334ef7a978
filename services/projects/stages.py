"""The project stage machine (储备 → 开工 → 在建 → 建成, or 已取消) as pure rules."""

from __future__ import annotations

from datetime import date

from services.common.contracts.calendar import business_date
from services.common.contracts.stages import (
    CANCELLED,
    FINAL_STAGES,
    STAGE_LABELS,
    STAGE_ORDER,
    STAGES,
)
from services.common.errors import Conflict, Invalid
from services.projects.labels import MESSAGES


class IllegalTransition(Conflict):
    """The project cannot move to that stage on that date."""


class UnknownStage(Invalid):
    """The stage is not one of the catalogue's stages."""


def _label(stage: str) -> str:
    return f"{stage} ({STAGE_LABELS[stage]})"


def _names(current: str, to: str) -> dict[str, str]:
    return {
        "current": STAGE_LABELS[current],
        "to": STAGE_LABELS[to],
        "current_en": _label(current),
        "to_en": _label(to),
    }


def _require_known(stage: str, *, loc: list[str]) -> None:
    if stage not in STAGE_LABELS:
        allowed = "、".join(STAGE_LABELS.values()) + " / " + ", ".join(STAGES)
        raise UnknownStage(MESSAGES("stage.unknown", stage=stage, allowed=allowed), loc=loc)


def check_transition(
    current_stage: str,
    to: str,
    on: date,
    *,
    last_transition_on: date | None = None,
    today: date | None = None,
) -> None:
    """Raise `IllegalTransition` unless a project in `current_stage` may move to `to` on `on`."""
    _require_known(current_stage, loc=["stage"])
    _require_known(to, loc=["to"])
    if current_stage in FINAL_STAGES:
        raise IllegalTransition(MESSAGES("stage.final", **_names(current_stage, to)), loc=["to"])
    if to == current_stage:
        raise IllegalTransition(MESSAGES("stage.same", **_names(current_stage, to)), loc=["to"])
    if to != CANCELLED and STAGE_ORDER.index(to) < STAGE_ORDER.index(current_stage):
        raise IllegalTransition(
            MESSAGES("stage.backwards", **_names(current_stage, to)), loc=["to"]
        )
    today = today or business_date()
    if on > today:
        raise IllegalTransition(
            MESSAGES("stage.future", on=on.isoformat(), today=today.isoformat()), loc=["on"]
        )
    if last_transition_on is not None and on < last_transition_on:
        raise IllegalTransition(
            MESSAGES("stage.before_previous", on=on.isoformat(), last=last_transition_on),
            loc=["on"],
        )


def skipped_stages(current_stage: str, to: str) -> tuple[str, ...]:
    """The main-line stages jumped over from `current_stage` to `to` (none when cancelling)."""
    if to == CANCELLED or current_stage not in STAGE_ORDER or to not in STAGE_ORDER:
        return ()
    return STAGE_ORDER[STAGE_ORDER.index(current_stage) + 1 : STAGE_ORDER.index(to)]


def allowed_targets(current_stage: str) -> tuple[str, ...]:
    """The stages a project in `current_stage` may move to."""
    if current_stage in FINAL_STAGES or current_stage not in STAGE_ORDER:
        return ()
    return STAGE_ORDER[STAGE_ORDER.index(current_stage) + 1 :] + (CANCELLED,)
