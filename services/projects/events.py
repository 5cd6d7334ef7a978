"""The snapshots the projects service's events carry; the events themselves are contracts.

The payload classes live in `services.common.contracts.events`; they are named here too, so a
reader of this service finds what it emits in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.common.contracts.events import (
    BlockerRaised,
    BlockerResolved,
    BlockerUpdated,
    InvestmentReported,
    MilestoneAdded,
    MilestoneUpdated,
    ProjectRegistered,
    ProjectStageChanged,
    ProjectUpdated,
)
from services.common.history import jsonable
from services.projects.models import BLOCKER_FIELDS, EDITABLE, MILESTONE_FIELDS

__all__ = [
    "BlockerRaised",
    "BlockerResolved",
    "BlockerUpdated",
    "InvestmentReported",
    "MilestoneAdded",
    "MilestoneUpdated",
    "ProjectRegistered",
    "ProjectStageChanged",
    "ProjectUpdated",
    "blocker_snapshot",
    "milestone_snapshot",
    "project_snapshot",
]

SNAPSHOT_FIELDS = ("id", "version", *EDITABLE, "stage", "created_on")


def project_snapshot(project: Mapping[str, Any], stages: Iterable[Mapping[str, Any]]) -> dict:
    """The whole project as consumers keep it: its fields, version and full stage history."""
    out = {f: jsonable(project.get(f)) for f in SNAPSHOT_FIELDS}
    out["stages"] = [
        {"stage": s["stage"], "on": jsonable(s["on"]), "ordinal": s["ordinal"]}
        for s in sorted(stages, key=lambda s: s["ordinal"])
    ]
    return out


def milestone_snapshot(m: Mapping[str, Any]) -> dict:
    return {k: jsonable(m.get(k)) for k in ("id", *MILESTONE_FIELDS, "version")}


def blocker_snapshot(b: Mapping[str, Any]) -> dict:
    return {k: jsonable(b.get(k)) for k in ("id", *BLOCKER_FIELDS, "version")}
