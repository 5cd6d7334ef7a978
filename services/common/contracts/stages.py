"""The project stage order: 储备 → 开工 → 在建 → 建成 along the main line, or 已取消 off it."""

from __future__ import annotations

STAGE_LABELS: dict[str, str] = {
    "reserve": "储备",
    "starting": "开工",
    "building": "在建",
    "built": "建成",
    "cancelled": "已取消",
}
STAGES: tuple[str, ...] = tuple(STAGE_LABELS)
"""Every stage a project can be in, the main line first."""

STAGE_ORDER: tuple[str, ...] = ("reserve", "starting", "building", "built")
"""The main line, in order; a project moves forward along it, skipping allowed."""

CANCELLED = "cancelled"
FINAL_STAGES: frozenset[str] = frozenset({"built", CANCELLED})
"""A project in one of these stages moves no more."""

STARTED_STAGES: tuple[str, ...] = STAGE_ORDER[1:]
"""The stages of a project whose works have begun (开工 or later)."""

UNDER_WAY_STAGES: tuple[str, ...] = tuple(s for s in STARTED_STAGES if s not in FINAL_STAGES)
"""The stages of a project begun and not yet built (开工, 在建)."""


# The four yearly lists of article 32, in the plan's order, keyed by the stage they hold.
BATCH_LABELS: dict[str, str] = {
    "built": "建成一批",
    "building": "在建一批",
    "starting": "开工一批",
    "reserve": "储备一批",
}
BATCHES: tuple[str, ...] = tuple(BATCH_LABELS)


def reached(stage: str) -> tuple[str, ...]:
    """The main-line stages that count as having reached `stage`: it and every later one."""
    return STAGE_ORDER[STAGE_ORDER.index(stage) :]
