"""The snapshots the enterprises service's events carry; the events themselves are contracts.

The payload classes live in `services.common.contracts.events`; they are named here too, so a
reader of this service finds what it emits in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from services.common.contracts.events import (
    DesignationEvent,
    DesignationExpired,
    DesignationGranted,
    DesignationRenewed,
    DesignationRevoked,
    EnterpriseEvent,
    EnterpriseRegistered,
    EnterpriseUpdated,
)
from services.common.envelope import Event
from services.common.history import jsonable
from services.enterprises.models import ENTERPRISE_FIELDS, Designation, Enterprise

__all__ = [
    "DesignationExpired",
    "DesignationGranted",
    "DesignationRenewed",
    "DesignationRevoked",
    "EnterpriseRegistered",
    "EnterpriseUpdated",
    "designation_event",
    "designation_snapshot",
    "enterprise_event",
    "enterprise_snapshot",
]

ENTERPRISE_SNAPSHOT = ("id", "version", *ENTERPRISE_FIELDS)
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


def enterprise_event(
    kind: type[EnterpriseEvent], enterprise: Enterprise | Mapping[str, Any], on: date
) -> Event:
    """An event of `kind` about the enterprise, with its current snapshot."""
    snapshot = enterprise_snapshot(enterprise)
    return kind(enterprise=snapshot).envelope(subject=snapshot["id"], on=on)


def designation_event(
    kind: type[DesignationEvent],
    enterprise: Enterprise | Mapping[str, Any],
    designation: Designation | Mapping[str, Any],
    on: date,
) -> Event:
    """An event of `kind` with the current snapshots of both entities."""
    snapshot = enterprise_snapshot(enterprise)
    payload = kind(enterprise=snapshot, designation=designation_snapshot(designation))
    return payload.envelope(subject=snapshot["id"], on=on)
