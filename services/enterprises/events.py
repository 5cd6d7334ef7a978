"""The events the enterprises service publishes and the snapshots they carry (docs/EVENTS.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.common.envelope import Event, utcnow
from services.common.history import jsonable
from services.enterprises.models import Designation, Enterprise, outbox

PRODUCER = "enterprises"

ENTERPRISE_SNAPSHOT = (
    "id",
    "version",
    "uscc",
    "name",
    "industry_section",
    "industry_chain",
    "sub_district",
    "size",
    "landed_on",
    "source_channel",
)
DESIGNATION_SNAPSHOT = (
    "id",
    "version",
    "enterprise_id",
    "type",
    "level",
    "granted_on",
    "expires_on",
    "revoked_on",
    "revoke_reason",
    "renews_id",
    "certificate_no",
    "status",
    "item_name",
)


def _snapshot(source: object, fields: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return {f: jsonable(source[f]) for f in fields}
    return {f: jsonable(getattr(source, f)) for f in fields}


def enterprise_snapshot(enterprise: Enterprise | Mapping[str, Any]) -> dict[str, Any]:
    """The whole current enterprise, as every enterprise and designation event carries it."""
    return _snapshot(enterprise, ENTERPRISE_SNAPSHOT)


def designation_snapshot(designation: Designation | Mapping[str, Any]) -> dict[str, Any]:
    """The whole current designation, with its own version."""
    return _snapshot(designation, DESIGNATION_SNAPSHOT)


@dataclass(frozen=True)
class EnterpriseEvent:
    """Something happened to an enterprise; the event's name is the class name."""

    enterprise: dict[str, Any]
    on: date

    def payload(self) -> dict[str, Any]:
        return {"enterprise": self.enterprise}

    def envelope(self) -> Event:
        return Event(
            type=type(self).__name__,
            subject=str(self.enterprise["id"]),
            on=self.on,
            producer=PRODUCER,
            payload=self.payload(),
        )


class EnterpriseRegistered(EnterpriseEvent):
    """A new enterprise entered the registry (`on` = landed_on, else the day it was entered)."""


class EnterpriseUpdated(EnterpriseEvent):
    """An enterprise's fields changed (`on` = the day of the change)."""


@dataclass(frozen=True)
class DesignationEvent(EnterpriseEvent):
    """Something happened to a designation; carries both snapshots."""

    designation: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"enterprise": self.enterprise, "designation": self.designation}


class DesignationGranted(DesignationEvent):
    """An enterprise was granted a designation (`on` = granted_on)."""


class DesignationRenewed(DesignationEvent):
    """A new designation continues an older one, named by its `renews_id` (`on` = granted_on)."""


class DesignationRevoked(DesignationEvent):
    """A designation was withdrawn (`on` = revoked_on)."""


class DesignationExpired(DesignationEvent):
    """A designation passed its `expires_on` (`on` = expires_on); emitted once, by the scheduler."""


def designation_event(
    kind: type[DesignationEvent],
    enterprise: Enterprise | Mapping[str, Any],
    designation: Designation | Mapping[str, Any],
    on: date,
) -> DesignationEvent:
    """An event of `kind` with the current snapshots of both entities."""
    return kind(
        enterprise=enterprise_snapshot(enterprise),
        designation=designation_snapshot(designation),
        on=on,
    )


def outbox_rows(events: Iterable[EnterpriseEvent]) -> list[dict[str, Any]]:
    """Outbox rows for the events, as `services.common.outbox.record` writes them."""
    rows = []
    now = utcnow()
    for item in events:
        event = item.envelope()
        rows.append(
            {
                "event_id": str(event.id),
                "subject": event.subject_suffix,
                "type": event.type,
                "data": event.to_bytes(),
                "created_at": now,
            }
        )
    return rows


def publish(session: Session, events: Iterable[EnterpriseEvent]) -> int:
    """Write the events to the outbox in the caller's transaction (one executemany for many)."""
    rows = outbox_rows(events)
    if rows:
        session.execute(outbox.insert(), rows)
    return len(rows)
