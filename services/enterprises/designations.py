"""Designations: grant, renew, revoke, and the questions asked of them (expiring, counts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from services.common.contracts.designations import (
    DESIGNATION_TYPES,
    ITEM_TYPES,
    LEVELS,
)
from services.common.contracts.events import DesignationEvent
from services.common.envelope import utcnow
from services.common.errors import Conflict, Invalid, NotFound, PreconditionFailed
from services.common.i18n import Text
from services.common.outbox import record
from services.common.settings import Settings
from services.enterprises import catalogue
from services.enterprises.events import (
    DesignationGranted,
    DesignationRenewed,
    DesignationRevoked,
    designation_event,
)
from services.enterprises.expiry import expire_due
from services.enterprises.labels import ITEM_COLUMN, MESSAGES, type_label
from services.enterprises.models import (
    ACTIVE,
    REVOKED,
    Designation,
    DesignationCreate,
    DesignationPublic,
    DesignationRenew,
    DesignationRevoke,
    Enterprise,
    ExpiringDesignation,
    outbox,
)
from services.enterprises.service import get, in_force, record_history

Loc = tuple[str | int, ...]


class OverlappingDesignation(Conflict):
    """The enterprise already holds this designation for part of the requested period."""


class NotRenewable(Conflict):
    """The designation cannot be continued (revoked, or already renewed)."""


class AlreadyRevoked(Conflict):
    """The designation was revoked before."""


# --- rules, shared with the import ---------------------------------------------------------


def check_validity(
    granted_on: date, expires_on: date | None, *, today: date, loc: Loc = ()
) -> None:
    """A grant is dated today or earlier and does not end before it starts."""
    if granted_on > today:
        raise Invalid(
            MESSAGES("granted.future", granted_on=granted_on, today=today),
            loc=[*loc, "granted_on"],
        )
    if expires_on is not None and expires_on < granted_on:
        raise Invalid(
            MESSAGES("expires.before", expires_on=expires_on, granted_on=granted_on),
            loc=[*loc, "expires_on"],
        )


def last_day(d: Designation | Mapping[str, Any]) -> date | None:
    """The last day a designation holds (through expires_on, before revoked_on); None if open."""
    expires_on = d["expires_on"] if isinstance(d, Mapping) else d.expires_on
    revoked_on = d["revoked_on"] if isinstance(d, Mapping) else d.revoked_on
    ends = [expires_on] if expires_on is not None else []
    if revoked_on is not None:
        ends.append(revoked_on - timedelta(days=1))
    return min(ends) if ends else None


def overlaps(start: date, end: date | None, other_start: date, other_end: date | None) -> bool:
    """Whether two inclusive spans (None = open-ended) share a day; an empty span shares none."""
    if (end is not None and end < start) or (other_end is not None and other_end < other_start):
        return False
    return (other_end is None or start <= other_end) and (end is None or other_start <= end)


def expiry_for(
    type_key: str, granted_on: date, expires_on: date | None, settings: Settings
) -> date | None:
    """The given expiry, else the one the type's validity rule gives (configurable)."""
    if expires_on is not None:
        return expires_on
    return catalogue.default_expiry(
        type_key, granted_on, overrides=settings.validity_years_override
    )


def overlap_message(
    type_key: str, start: date, end: date | None, certificate_no: str | None = None
) -> Text:
    """The designation a new one would overlap, as a clerk finds it: by its type, the day it was
    granted and its certificate number (when one was recorded)."""
    return MESSAGES(
        "overlap",
        label=type_label(type_key),
        start=start,
        end=end or "without expiry",
        end_zh=end or "长期",
        certificate=f", certificate {certificate_no}" if certificate_no else "",
        certificate_zh=f"，证书编号 {certificate_no}" if certificate_no else "",
    )


def check_item(type_key: str, item_name: str | None, *, loc: Loc = ()) -> None:
    """Types counted as items name the item; the others are held once and take no name."""
    if type_key in ITEM_TYPES and item_name is None:
        key = "item.required"
    elif type_key not in ITEM_TYPES and item_name is not None:
        key = "item.refused"
    else:
        return
    message = MESSAGES(key, label=type_label(type_key), column=ITEM_COLUMN)
    raise Invalid(message, loc=[*loc, "item_name"])


def rank(level: str) -> int:
    """A level's rank: 0 for national, higher numbers for lower levels."""
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


# --- reads ---------------------------------------------------------------------------------


def get_designation(session: Session, *, enterprise_id: int, designation_id: int) -> Designation:
    """A designation of this enterprise, or 404."""
    designation = session.scalars(
        select(Designation)
        .where(Designation.id == designation_id, Designation.enterprise_id == enterprise_id)
        .execution_options(populate_existing=True)
    ).first()
    if designation is None:
        raise NotFound(
            MESSAGES("designation.not_found", enterprise=enterprise_id, id=designation_id),
            loc=["path", "designation_id"],
        )
    return designation


def renewal_of(session: Session, designation_id: int) -> int | None:
    """The id of the designation that continues this one, if any."""
    return session.scalar(select(Designation.id).where(Designation.renews_id == designation_id))


def view(session: Session, designation: Designation) -> DesignationPublic:
    return DesignationPublic.of(designation, renewed_by=renewal_of(session, designation.id))


def expiring(
    session: Session, *, today: date, within_days: int, limit: int, offset: int
) -> tuple[list[ExpiringDesignation], int]:
    """Designations in force today that lapse within `within_days` and are not yet renewed."""
    renewal = aliased(Designation)
    conditions = [
        Designation.status == ACTIVE,
        in_force(today),
        Designation.expires_on.is_not(None),
        Designation.expires_on <= today + timedelta(days=within_days),
        ~select(renewal.id).where(renewal.renews_id == Designation.id).exists(),
    ]
    base = select(Designation, Enterprise).join(Enterprise).where(*conditions)
    total = session.scalar(
        select(func.count()).select_from(Designation).join(Enterprise).where(*conditions)
    )
    rows = session.execute(
        base.order_by(Designation.expires_on, Designation.id).limit(limit).offset(offset)
    ).all()
    items = [
        ExpiringDesignation.model_validate(
            {
                **DesignationPublic.of(d).model_dump(),
                "enterprise_name": e.name,
                "enterprise_uscc": e.uscc,
                "days_left": (d.expires_on - today).days,
            }
        )
        for d, e in rows
    ]
    return items, total or 0


def counts_by_type(session: Session, *, on: date) -> list[dict[str, Any]]:
    """How many enterprises hold each designation type on `on` (every type, zeros included)."""
    held = dict(
        session.execute(
            select(Designation.type, func.count(func.distinct(Designation.enterprise_id)))
            .where(in_force(on))
            .group_by(Designation.type)
        ).all()
    )
    return [
        {"type": key, "label": entry.label, "count": held.get(key, 0)}
        for key, entry in DESIGNATION_TYPES.items()
    ]


# --- writes --------------------------------------------------------------------------------


def grant(
    session: Session,
    *,
    enterprise_id: int,
    data: DesignationCreate,
    actor: str,
    settings: Settings,
    today: date,
) -> Designation:
    """Grant a designation (DesignationGranted); with `renews_id` it is a renewal instead."""
    if data.renews_id is not None:
        renewal = DesignationRenew(
            level=data.level,
            granted_on=data.granted_on,
            expires_on=data.expires_on,
            certificate_no=data.certificate_no,
        )
        return renew(
            session,
            enterprise_id=enterprise_id,
            designation_id=data.renews_id,
            data=renewal,
            type_key=data.type,
            actor=actor,
            settings=settings,
            today=today,
        )
    enterprise = get(session, enterprise_id=enterprise_id, lock=True)
    level = catalogue.resolve_level(data.type, data.level)
    check_item(data.type, data.item_name)
    expires_on = expiry_for(data.type, data.granted_on, data.expires_on, settings)
    check_validity(data.granted_on, expires_on, today=today)
    held = Held(data.type, data.item_name, level)
    return _insert(session, enterprise, held, data, expires_on, actor=actor, today=today)


def renew(
    session: Session,
    *,
    enterprise_id: int,
    designation_id: int,
    data: DesignationRenew,
    type_key: str | None = None,
    actor: str,
    settings: Settings,
    today: date,
) -> Designation:
    """A new designation continuing an earlier one of the same type (DesignationRenewed)."""
    enterprise = get(session, enterprise_id=enterprise_id, lock=True)
    old = get_designation(session, enterprise_id=enterprise.id, designation_id=designation_id)
    if type_key is not None and type_key != old.type:
        raise Invalid(
            MESSAGES("renew.type", old=type_label(old.type), given=type_label(type_key)),
            loc=["type"],
        )
    if old.status == REVOKED:
        raise NotRenewable(
            MESSAGES("renew.revoked", id=old.id, on=old.revoked_on),
            loc=["renews_id"],
        )
    successor = renewal_of(session, old.id)
    if successor is not None:
        raise NotRenewable(
            MESSAGES("renew.already", id=old.id, successor=successor),
            loc=["renews_id"],
            extra={"renewed_by": successor},
        )
    level = catalogue.resolve_level(old.type, data.level or old.level)
    expires_on = expiry_for(old.type, data.granted_on, data.expires_on, settings)
    check_validity(data.granted_on, expires_on, today=today)
    if data.granted_on <= old.granted_on:
        raise Invalid(
            MESSAGES("renew.not_after", granted_on=old.granted_on),
            loc=["granted_on"],
        )
    held = Held(old.type, old.item_name, level)
    return _insert(session, enterprise, held, data, expires_on, old.id, actor=actor, today=today)


@dataclass(frozen=True)
class Held:
    """What a new designation would hold: its type, item (for item types) and level."""

    type: str
    item_name: str | None
    level: str


def _refuse_overlap(
    session: Session,
    enterprise_id: int,
    new: Held,
    start: date,
    end: date | None,
    *,
    renewing: int | None,
) -> None:
    """Refuse a second designation of the same type (and item) for the same days, unless it
    continues one, or is granted at a higher level than every one it overlaps (an upgrade)."""
    held = session.scalars(
        select(Designation).where(
            Designation.enterprise_id == enterprise_id,
            Designation.type == new.type,
            Designation.item_name.is_(None)
            if new.item_name is None
            else Designation.item_name == new.item_name,
        )
    ).all()
    # A renewal may overlap what it continues: the renewed designation and those it renewed.
    by_id = {d.id: d for d in held}
    chain: set[int] = set()
    cursor = by_id.get(renewing) if renewing is not None else None
    while cursor is not None and cursor.id not in chain:
        chain.add(cursor.id)
        cursor = by_id.get(cursor.renews_id) if cursor.renews_id is not None else None
    for d in held:
        if d.id in chain or rank(new.level) < rank(d.level):
            continue
        if overlaps(start, end, d.granted_on, last_day(d)):
            raise OverlappingDesignation(
                overlap_message(new.type, d.granted_on, last_day(d), d.certificate_no),
                loc=["granted_on"],
                extra={"conflicting_id": d.id},
            )


def _insert(
    session: Session,
    enterprise: Enterprise,
    held: Held,
    data: DesignationCreate | DesignationRenew,
    expires_on: date | None,
    renews: int | None = None,
    *,
    actor: str,
    today: date,
) -> Designation:
    """The new designation, granted (DesignationGranted) or continuing `renews`
    (DesignationRenewed), unless it overlaps one the enterprise holds."""
    _refuse_overlap(session, enterprise.id, held, data.granted_on, expires_on, renewing=renews)
    values = {
        "type": held.type,
        "level": held.level,
        "item_name": held.item_name,
        "granted_on": data.granted_on,
        "expires_on": expires_on,
        "certificate_no": data.certificate_no,
        "renews_id": renews,
    }
    kind: type[DesignationEvent] = DesignationGranted if renews is None else DesignationRenewed
    designation = Designation(enterprise_id=enterprise.id, **values)
    session.add(designation)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request renewed the same designation first
        session.rollback()
        raise NotRenewable(
            MESSAGES("renew.meanwhile", id=values["renews_id"]),
            loc=["renews_id"],
        ) from None
    changes = {f: [None, v] for f, v in values.items() if v is not None}
    action = "renew" if values["renews_id"] else "grant"
    record_history(session, "designation", designation.id, 1, actor, action, changes)
    record(
        session, outbox, designation_event(kind, enterprise, designation, designation.granted_on)
    )
    # A certificate recorded after its expiry lapses at once, with its own DesignationExpired.
    expire_due(session, today=today, ids=[designation.id])
    return designation


def revoke(
    session: Session,
    *,
    enterprise_id: int,
    designation_id: int,
    data: DesignationRevoke,
    expected_version: int | None,
    actor: str,
    today: date,
) -> Designation:
    """Withdraw a designation from `on` (DesignationRevoked); it holds until the day before."""
    enterprise = get(session, enterprise_id=enterprise_id, lock=True)
    d = get_designation(session, enterprise_id=enterprise.id, designation_id=designation_id)
    on = data.on or today
    if d.status == REVOKED:
        raise AlreadyRevoked(MESSAGES("revoke.already", id=d.id, on=d.revoked_on))
    if on < d.granted_on:
        raise Invalid(MESSAGES("revoke.before", on=on, granted_on=d.granted_on), loc=["on"])
    if on > today:
        raise Invalid(MESSAGES("revoke.future", on=on, today=today), loc=["on"])
    if d.expires_on is not None and on > d.expires_on:
        raise AlreadyRevoked(
            MESSAGES("revoke.lapsed", id=d.id, on=d.expires_on),
            loc=["on"],
        )
    table = Designation.__table__
    before = {"status": d.status, "revoked_on": None, "revoke_reason": None}
    after = {"status": REVOKED, "revoked_on": on, "revoke_reason": data.reason}
    bumped = session.execute(
        update(table)
        .where(table.c.id == d.id, table.c.version == (expected_version or d.version))
        .values(**after, version=table.c.version + 1, updated_at=utcnow())
    ).rowcount
    if not bumped:
        session.rollback()
        current = get_designation(session, enterprise_id=enterprise_id, designation_id=d.id)
        raise PreconditionFailed(
            MESSAGES("designation.stale", id=d.id, version=current.version),
            loc=["header", "If-Match"],
            extra={"current_version": current.version},
        )
    d = get_designation(session, enterprise_id=enterprise.id, designation_id=d.id)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    record_history(session, "designation", d.id, d.version, actor, "revoke", changes)
    record(session, outbox, designation_event(DesignationRevoked, enterprise, d, on))
    return d
