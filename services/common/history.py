"""Change history of mutable entities: who changed what, when, each field before → after."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table
from sqlalchemy.orm import Session

from services.common.auth import current_principal
from services.common.envelope import utcnow


def history_table(metadata: MetaData, name: str = "history") -> Table:
    """The history table, declared on a service's own metadata (one table for all its entities).

    Columns: `entity` (e.g. "project", "milestone"), `entity_id`, `version` (the entity's version
    after the change), `at` (UTC), `actor` (the username or token subject), `actor_name` (the
    person's display name, when a person made the change), `action` ("create", "update",
    "transition", …) and `changes` ({field: [before, after]}, JSON).
    """
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("entity", String(40), nullable=False),
        Column("entity_id", Integer, nullable=False),
        Column("version", Integer, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("actor_name", String(200), nullable=True),
        Column("action", String(40), nullable=False),
        Column("changes", JSON, nullable=False),
        Index(f"ix_{name}_entity_entity_id", "entity", "entity_id", "id"),
    )


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """A value as it is stored in `changes` and events: dates as YYYY-MM-DD, enums by value."""
    if type(value) in _PLAIN:  # the common case, checked first: imports call this a lot
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for every field of `after` whose value differs from `before`.

    Fields missing from `before` count as None; values are made JSON-safe with `jsonable`.
    """
    out: dict[str, list[Any]] = {}
    for field, new in after.items():
        old = jsonable(before.get(field))
        new = jsonable(new)
        if old != new:
            out[field] = [old, new]
    return out


def history_row(
    *,
    entity: str,
    entity_id: int,
    version: int,
    actor: str,
    action: str,
    changes: Mapping[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """One history row as a dict, for `record_changes` (bulk) or `record_change` (one).

    When `actor` is the request's verified caller, the row also names the person
    (`actor_name`, from the identity the gateway signed)."""
    return {
        "entity": entity,
        "entity_id": entity_id,
        "version": version,
        "at": at or utcnow(),
        "actor": actor,
        "actor_name": actor_name(actor),
        "action": action,
        # Values are mostly plain already (`diff` made them so): only the others are converted.
        "changes": {
            k: [v if type(v) in _PLAIN else jsonable(v) for v in pair]
            for k, pair in changes.items()
        },
    }


def actor_name(actor: str) -> str | None:
    """The display name of `actor` when it is the person making the current request."""
    principal = current_principal.get()
    if principal is not None and principal.subject == actor:
        return principal.display_name
    return None


def record_change(
    session: Session,
    table: Table,
    *,
    entity: str,
    entity_id: int,
    version: int,
    actor: str,
    action: str,
    changes: Mapping[str, Any],
) -> None:
    """Add one history row to the caller's transaction (so it exists only if the change commits)."""
    session.execute(
        table.insert(),
        [
            history_row(
                entity=entity,
                entity_id=entity_id,
                version=version,
                actor=actor,
                action=action,
                changes=changes,
            )
        ],
    )


def record_changes(session: Session, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add many history rows (built with `history_row`) in one executemany, e.g. for an import."""
    rows = list(rows)
    if rows:
        session.execute(table.insert(), rows)
