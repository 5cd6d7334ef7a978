"""The typed payload of every event in docs/EVENTS.md, one base, the producer as data.

A producer builds a payload (`ProjectStageChanged(project=…, from_=…, to=…, ordinal=…)`) and
wraps it in the envelope with `.envelope(subject=…, on=…)`; a consumer looks the type up in
`EVENT_TYPES` and parses the payload back with `.parse(payload)`. Snapshots (docs/EVENTS.md)
travel as JSON objects: the payload checks they are objects, the roll-up keeps their fields.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from services.common.envelope import Event

Snapshot = InstanceOf[dict]
"""An entity's whole current state, a JSON object with its `version` (docs/EVENTS.md)."""

Stream = Literal["domain", "live"]

EVENT_TYPES: dict[str, type[DomainEvent]] = {}
"""Every event type by its name, as the envelope's `type` carries it."""


class DomainEvent(BaseModel):
    """A past-tense fact's payload. `TYPE`, `PRODUCER` and `STREAM` say what and whose it is."""

    model_config = ConfigDict(populate_by_name=True)
    TYPE: ClassVar[str]
    PRODUCER: ClassVar[str]
    STREAM: ClassVar[Stream] = "domain"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("TYPE")
        if name is not None:
            EVENT_TYPES[name] = cls

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> Self:
        """The payload as the envelope carried it; pydantic's ValidationError when it is not."""
        return cls.model_validate(payload)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def envelope(self, *, subject: int | str, on: date, id: uuid.UUID | None = None) -> Event:
        """The event as it goes into an outbox or onto the live stream."""
        extra = {} if id is None else {"id": id}
        return Event(
            type=self.TYPE,
            subject=str(subject),
            on=on,
            producer=self.PRODUCER,
            payload=self.payload(),
            **extra,
        )


# --- projects ---------------------------------------------------------------------------------


class ProjectEvent(DomainEvent):
    PRODUCER: ClassVar[str] = "projects"


class ProjectRegistered(ProjectEvent):
    """A project entered the ledger (`on` = created_on)."""

    TYPE: ClassVar[str] = "ProjectRegistered"
    project: Snapshot


class ProjectUpdated(ProjectEvent):
    """A project's fields changed (`on` = the day of the change)."""

    TYPE: ClassVar[str] = "ProjectUpdated"
    project: Snapshot
    changes: dict[str, list[Any]]


class ProjectStageChanged(ProjectEvent):
    """A project moved along the stage machine (`on` = the transition's date)."""

    TYPE: ClassVar[str] = "ProjectStageChanged"
    project: Snapshot
    from_: str = Field(alias="from")
    to: str
    ordinal: int
    note: str | None = None


class MilestoneAdded(ProjectEvent):
    TYPE: ClassVar[str] = "MilestoneAdded"
    project_id: int
    milestone: Snapshot


class MilestoneUpdated(MilestoneAdded):
    TYPE: ClassVar[str] = "MilestoneUpdated"


class InvestmentReported(ProjectEvent):
    """Completed investment for a month (`on` = the month's first day)."""

    TYPE: ClassVar[str] = "InvestmentReported"
    project_id: int
    month: str
    amount_wan: float
    cumulative_wan: float


class BlockerRaised(ProjectEvent):
    TYPE: ClassVar[str] = "BlockerRaised"
    project_id: int
    blocker: Snapshot


class BlockerUpdated(BlockerRaised):
    TYPE: ClassVar[str] = "BlockerUpdated"


class BlockerResolved(BlockerRaised):
    TYPE: ClassVar[str] = "BlockerResolved"


# --- enterprises ------------------------------------------------------------------------------


class EnterpriseEvent(DomainEvent):
    PRODUCER: ClassVar[str] = "enterprises"
    enterprise: Snapshot


class EnterpriseRegistered(EnterpriseEvent):
    """A new enterprise entered the registry (`on` = landed_on, else the day it was entered)."""

    TYPE: ClassVar[str] = "EnterpriseRegistered"


class EnterpriseUpdated(EnterpriseEvent):
    """An enterprise's fields changed (`on` = the day of the change)."""

    TYPE: ClassVar[str] = "EnterpriseUpdated"


class DesignationEvent(EnterpriseEvent):
    """Something happened to a designation; carries both snapshots."""

    designation: Snapshot


class DesignationGranted(DesignationEvent):
    """An enterprise was granted a designation (`on` = granted_on)."""

    TYPE: ClassVar[str] = "DesignationGranted"


class DesignationRenewed(DesignationEvent):
    """A new designation continues an older one, named by its `renews_id` (`on` = granted_on)."""

    TYPE: ClassVar[str] = "DesignationRenewed"


class DesignationRevoked(DesignationEvent):
    """A designation was withdrawn (`on` = revoked_on)."""

    TYPE: ClassVar[str] = "DesignationRevoked"


class DesignationExpired(DesignationEvent):
    """A designation passed its `expires_on` (`on` = expires_on); emitted once, by the scheduler."""

    TYPE: ClassVar[str] = "DesignationExpired"


# --- events -----------------------------------------------------------------------------------


class TargetReported(DomainEvent):
    """A department reported a statistic (`on` = the end of the reported period)."""

    TYPE: ClassVar[str] = "TargetReported"
    PRODUCER: ClassVar[str] = "events"
    target_id: str
    report: dict[str, Any]


class TargetProgressChanged(DomainEvent):
    """A target's value or status moved; a live notice on `<prefix>.live.target.<id>`."""

    TYPE: ClassVar[str] = "TargetProgressChanged"
    PRODUCER: ClassVar[str] = "events"
    STREAM: ClassVar[Stream] = "live"
    target: dict[str, Any]


class ProjectStageAnnounced(DomainEvent):
    """A project's stage change as dashboards show it; a live notice on
    `<prefix>.live.project.<id>`, sent by the projects service's relay once JetStream has the
    ProjectStageChanged it announces."""

    TYPE: ClassVar[str] = "ProjectStageAnnounced"
    PRODUCER: ClassVar[str] = "projects"
    STREAM: ClassVar[Stream] = "live"
    id: int
    name: str | None = None
    category: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str
    on: date
