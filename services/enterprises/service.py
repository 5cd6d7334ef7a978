"""The enterprise registry's rules: one enterprise per USCC, its fields, searches and history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from services.common.contracts.designations import in_force_on
from services.common.envelope import utcnow
from services.common.errors import Conflict, Invalid, NotFound, PreconditionFailed
from services.common.history import diff, record_change
from services.common.outbox import record
from services.common.settings import Settings
from services.enterprises import catalogue, uscc
from services.enterprises.events import (
    EnterpriseRegistered,
    EnterpriseUpdated,
    enterprise_event,
)
from services.enterprises.labels import MESSAGES
from services.enterprises.models import (
    ENTERPRISE_FIELDS,
    Designation,
    DesignationPublic,
    Enterprise,
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseUpdate,
    history,
    outbox,
)

Loc = tuple[str | int, ...]


class DuplicateUSCC(Conflict):
    """Another enterprise already has this Unified Social Credit Code."""


# --- checks shared with the import ------------------------------------------------------


def check_uscc(raw: str, *, loc: Loc = ("uscc",)) -> str:
    """The normalised code, or a 422 whose body names the rule broken (length/character/check)."""
    try:
        return uscc.validate(raw, loc=list(loc))
    except uscc.InvalidUSCC as exc:
        exc.extra = {**exc.extra, "rule": exc.rule}
        raise


def check_chain(value: str | None, settings: Settings, *, loc: Loc = ("industry_chain",)) -> None:
    """The industry chain must be one of the configured key chains of the plan."""
    if value is None:
        return
    chains = catalogue.industry_chains(getattr(settings, "industry_chains", None))
    if value not in chains:
        raise Invalid(
            MESSAGES("chain.unknown", value=value, allowed=", ".join(chains)), loc=list(loc)
        )


# --- enterprises ---------------------------------------------------------------------------


def get(session: Session, *, enterprise_id: int, lock: bool = False) -> Enterprise:
    """One enterprise, or 404; `lock` holds its row until the transaction ends (PostgreSQL)."""
    stmt = select(Enterprise).where(Enterprise.id == enterprise_id)
    if lock:
        stmt = stmt.with_for_update()
    enterprise = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if enterprise is None:
        raise NotFound(MESSAGES("not_found", id=enterprise_id), loc=["path", "enterprise_id"])
    return enterprise


def get_by_uscc(session: Session, *, code: str) -> Enterprise:
    """The enterprise registered under a code (normalised first), or 404."""
    normalised = check_uscc(code, loc=("path", "uscc"))
    enterprise = session.scalars(select(Enterprise).where(Enterprise.uscc == normalised)).first()
    if enterprise is None:
        raise NotFound(MESSAGES("uscc.not_found", code=normalised), loc=["path", "uscc"])
    return enterprise


def _refuse_duplicate(session: Session, code: str, *, other_than: int | None = None) -> None:
    stmt = select(Enterprise.id).where(Enterprise.uscc == code)
    if other_than is not None:
        stmt = stmt.where(Enterprise.id != other_than)
    existing = session.scalar(stmt)
    if existing is not None:
        raise DuplicateUSCC(
            MESSAGES("uscc.taken", code=code, id=existing),
            loc=["uscc"],
            extra={"id": existing, "existing_id": existing},
        )


def create(
    session: Session, *, data: EnterpriseCreate, actor: str, settings: Settings, today: date
) -> Enterprise:
    """Register an enterprise (EnterpriseRegistered); its USCC must be valid and new."""
    values = data.model_dump(include=set(ENTERPRISE_FIELDS))
    values["uscc"] = check_uscc(values["uscc"])
    check_chain(values["industry_chain"], settings)
    _refuse_duplicate(session, values["uscc"])
    enterprise = Enterprise(**values)
    session.add(enterprise)
    try:
        session.flush()
    except IntegrityError:  # registered by a concurrent request since the check
        session.rollback()
        _refuse_duplicate(session, values["uscc"])
        raise
    changes = {f: [None, v] for f, v in values.items() if v is not None}
    record_history(session, "enterprise", enterprise.id, 1, actor, "create", changes)
    record(
        session,
        outbox,
        enterprise_event(EnterpriseRegistered, enterprise, enterprise.landed_on or today),
    )
    return enterprise


def update(
    session: Session,
    *,
    enterprise: Enterprise,
    expected_version: int,
    data: EnterpriseUpdate,
    actor: str,
    settings: Settings,
    today: date,
) -> Enterprise:
    """Change the fields sent, if `expected_version` is still current (EnterpriseUpdated)."""
    sent = data.model_dump(exclude_unset=True)
    for required in ("uscc", "name"):
        if required in sent and sent[required] is None:
            raise Invalid(MESSAGES("cannot_clear", field=required), loc=[required])
    if "uscc" in sent:
        sent["uscc"] = check_uscc(sent["uscc"])
        _refuse_duplicate(session, sent["uscc"], other_than=enterprise.id)
    if "industry_chain" in sent:
        check_chain(sent["industry_chain"], settings)
    changes = diff({f: getattr(enterprise, f) for f in sent}, sent)
    if not changes:
        return enterprise
    table = Enterprise.__table__
    try:
        bumped = session.execute(
            sql_update(table)
            .where(table.c.id == enterprise.id, table.c.version == expected_version)
            .values(
                **{f: sent[f] for f in changes}, version=table.c.version + 1, updated_at=utcnow()
            )
        ).rowcount
    except IntegrityError:
        session.rollback()
        _refuse_duplicate(session, sent["uscc"], other_than=enterprise.id)
        raise
    if not bumped:
        session.rollback()
        raise _stale(get(session, enterprise_id=enterprise.id).version)
    enterprise = get(session, enterprise_id=enterprise.id)
    record_history(
        session, "enterprise", enterprise.id, enterprise.version, actor, "update", changes
    )
    record(session, outbox, enterprise_event(EnterpriseUpdated, enterprise, today))
    return enterprise


def _stale(current: int) -> PreconditionFailed:
    return PreconditionFailed(
        MESSAGES("stale", version=current),
        loc=["header", "If-Match"],
        extra={"current_version": current},
    )


def in_force(on: date) -> ColumnElement[bool]:
    """SQL condition: a designation holds on `on` (granted, not past expiry, not revoked)."""
    return in_force_on(Designation.__table__.c, on)


def search(
    session: Session,
    *,
    filters: Mapping[str, Any],
    on: date,
    limit: int | None,
    offset: int = 0,
) -> tuple[list[Enterprise], int]:
    """Enterprises matching the filters (q: name contains or USCC starts with), by id."""
    conditions = _conditions(filters, on)
    total = session.scalar(select(func.count()).select_from(Enterprise).where(*conditions)) or 0
    stmt = select(Enterprise).where(*conditions).order_by(Enterprise.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt)), total


def _conditions(filters: Mapping[str, Any], on: date) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for field in ("industry_section", "industry_chain", "sub_district", "size"):
        if filters.get(field):
            out.append(getattr(Enterprise, field) == filters[field])
    if filters.get("q"):
        q = filters["q"].strip()
        out.append(
            or_(
                Enterprise.name.icontains(q, autoescape=True),
                Enterprise.uscc.startswith(uscc.normalise(q), autoescape=True),
            )
        )
    if filters.get("uscc_prefix"):
        prefix = uscc.normalise(filters["uscc_prefix"])
        out.append(Enterprise.uscc.startswith(prefix, autoescape=True))
    if filters.get("designation"):
        d = Designation.__table__.c
        held = exists().where(
            d.enterprise_id == Enterprise.id, d.type.in_(filters["designation"]), in_force(on)
        )
        if filters.get("level"):
            held = held.where(d.level.in_(filters["level"]))
        out.append(held)
    return out


def views(session: Session, enterprises: Iterable[Enterprise]) -> list[EnterprisePublic]:
    """The public form of enterprises, each with its designations (one query for all)."""
    enterprises = list(enterprises)
    held = designations_of(session, [e.id for e in enterprises])
    return [EnterprisePublic.of(e, held.get(e.id, [])) for e in enterprises]


def designations_of(
    session: Session, enterprise_ids: list[int]
) -> dict[int, list[DesignationPublic]]:
    """Designations by enterprise, oldest grant first, each naming the renewal that continues it."""
    out: dict[int, list[DesignationPublic]] = {}
    if not enterprise_ids:
        return out
    rows = session.scalars(
        select(Designation)
        .where(Designation.enterprise_id.in_(enterprise_ids))
        .order_by(Designation.enterprise_id, Designation.granted_on, Designation.id)
        .execution_options(populate_existing=True)
    ).all()
    renewed_by = {d.renews_id: d.id for d in rows if d.renews_id is not None}
    for d in rows:
        out.setdefault(d.enterprise_id, []).append(
            DesignationPublic.of(d, renewed_by=renewed_by.get(d.id))
        )
    return out


def record_history(
    session: Session,
    entity: str,
    entity_id: int,
    version: int,
    actor: str,
    action: str,
    changes: Mapping[str, Any],
) -> None:
    """One history row (who, what, each field before → after) in the caller's transaction."""
    record_change(
        session,
        history,
        entity=entity,
        entity_id=entity_id,
        version=version,
        actor=actor,
        action=action,
        changes=changes,
    )


def changes_of(
    session: Session, *, enterprise_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Every recorded change of an enterprise and of its designations, oldest first."""
    h = history.c
    ids = select(Designation.id).where(Designation.enterprise_id == enterprise_id)
    where = or_(
        (h.entity == "enterprise") & (h.entity_id == enterprise_id),
        (h.entity == "designation") & h.entity_id.in_(ids.scalar_subquery()),
    )
    total = session.scalar(select(func.count()).select_from(history).where(where)) or 0
    rows = session.execute(select(history).where(where).order_by(h.id).limit(limit).offset(offset))
    return [dict(r._mapping) for r in rows], total
