"""Events the projects service publishes (docs/EVENTS.md) and the project snapshot they carry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from services.common.envelope import Event
from services.common.history import jsonable

PRODUCER = "projects"

SNAPSHOT_FIELDS = (
    "id",
    "version",
    "name",
    "category",
    "stage",
    "level",
    "sub_district",
    "lead_department",
    "plan_clause",
    "quantity",
    "quantity_unit",
    "total_investment_wan",
    "planned_start",
    "planned_completion",
    "code",
    "created_on",
)


def project_snapshot(project: Mapping[str, Any], stages: Iterable[Mapping[str, Any]]) -> dict:
    """The whole project as consumers keep it: its fields, version and full stage history."""
    out = {f: jsonable(project.get(f)) for f in SNAPSHOT_FIELDS}
    out["stages"] = [
        {"stage": s["stage"], "on": jsonable(s["on"]), "ordinal": s["ordinal"]}
        for s in sorted(stages, key=lambda s: s["ordinal"])
    ]
    return out


def milestone_snapshot(m: Mapping[str, Any]) -> dict:
    keys = ("id", "kind", "title", "due_on", "done_on", "version")
    return {k: jsonable(m.get(k)) for k in keys}


def blocker_snapshot(b: Mapping[str, Any]) -> dict:
    keys = (
        "id",
        "kind",
        "description",
        "responsible_department",
        "raised_on",
        "due_on",
        "resolved_on",
        "resolution",
        "version",
    )
    return {k: jsonable(b.get(k)) for k in keys}


class DomainEvent(BaseModel):
    """A past-tense fact; `envelope` wraps it for the outbox."""

    model_config = ConfigDict(populate_by_name=True)
    TYPE: ClassVar[str]

    def envelope(self, *, subject: int | str, on: date) -> Event:
        return Event(
            type=self.TYPE,
            subject=str(subject),
            on=on,
            producer=PRODUCER,
            payload=self.model_dump(mode="json", by_alias=True),
        )


class ProjectRegistered(DomainEvent):
    TYPE: ClassVar[str] = "ProjectRegistered"
    project: dict[str, Any]


class ProjectUpdated(DomainEvent):
    TYPE: ClassVar[str] = "ProjectUpdated"
    project: dict[str, Any]
    changes: dict[str, list[Any]]


class ProjectStageChanged(DomainEvent):
    TYPE: ClassVar[str] = "ProjectStageChanged"
    project: dict[str, Any]
    from_: str = Field(alias="from")
    to: str
    ordinal: int
    note: str | None = None


class MilestoneAdded(DomainEvent):
    TYPE: ClassVar[str] = "MilestoneAdded"
    project_id: int
    milestone: dict[str, Any]


class MilestoneUpdated(MilestoneAdded):
    TYPE: ClassVar[str] = "MilestoneUpdated"


class InvestmentReported(DomainEvent):
    TYPE: ClassVar[str] = "InvestmentReported"
    project_id: int
    month: str
    amount_wan: float
    cumulative_wan: float


class BlockerRaised(DomainEvent):
    TYPE: ClassVar[str] = "BlockerRaised"
    project_id: int
    blocker: dict[str, Any]


class BlockerUpdated(BlockerRaised):
    TYPE: ClassVar[str] = "BlockerUpdated"


class BlockerResolved(BlockerRaised):
    TYPE: ClassVar[str] = "BlockerResolved"
