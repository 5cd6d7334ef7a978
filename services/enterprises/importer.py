"""Applying an imported ledger: upsert by USCC; designations granted, renewed, revoked in bulk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.bulk import allocate_ids, bulk_insert, bulk_update
from services.common.envelope import Event, utcnow
from services.common.errors import Conflict, Invalid
from services.common.history import diff, history_row
from services.common.i18n import Text
from services.common.outbox import outbox_rows
from services.common.settings import Settings
from services.common.spreadsheet import Sheet, sorted_errors
from services.enterprises.designations import check_item, last_day, overlap_message, overlaps
from services.enterprises.events import (
    DesignationGranted,
    DesignationRenewed,
    DesignationRevoked,
    EnterpriseRegistered,
    EnterpriseUpdated,
    designation_event,
    enterprise_event,
)
from services.enterprises.expiry import expire_due
from services.enterprises.labels import MESSAGES
from services.enterprises.ledger import (
    HEADERS,
    PlannedDesignation,
    PlannedEnterprise,
    chunks,
    read_plan,
)
from services.enterprises.models import (
    ACTIVE,
    ENTERPRISE_FIELDS,
    REVOKED,
    Designation,
    Enterprise,
    ImportResult,
    history,
    outbox,
)

ACTION = "import"


@dataclass
class Known:
    """A designation of an enterprise as the import sees it: registered, or planned from a row."""

    type: str
    granted_on: date
    last: date | None
    revoked: bool
    item_name: str | None = None  # for types counted as items: which one
    level: str | None = None
    row: int | None = None  # the sheet row of a planned one
    record: Designation | None = None  # the registered one
    planned: PlannedDesignation | None = None
    renews: Known | None = None
    renewed: bool = False
    id: int | None = None

    @property
    def certificate_no(self) -> str | None:
        found = self.record or self.planned
        return found.certificate_no if found is not None else None


@dataclass
class Plan:
    """Everything the import will write, checked against the registry before anything is."""

    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[tuple[Enterprise, dict[str, Any], dict[str, list[Any]]]] = field(
        default_factory=list
    )
    unchanged: list[str] = field(default_factory=list)  # USCCs
    enterprises: dict[str, dict[str, Any]] = field(default_factory=dict)  # final, by USCC
    granted: list[tuple[str, Known]] = field(default_factory=list)
    revoked: list[tuple[str, Known, date, str | None]] = field(default_factory=list)
    designations_unchanged: list[str] = field(default_factory=list)  # USCCs, one per designation
    rows: dict[str, list[int]] = field(default_factory=dict)  # the sheet rows of each USCC


def import_ledger(
    session: Session,
    *,
    content: bytes,
    filename: str,
    actor: str,
    settings: Settings,
    today: date,
    dry_run: bool = False,
    check_scope: Callable[..., None] = lambda *_: None,
    already_read: tuple[dict[str, PlannedEnterprise], Sheet] | None = None,
) -> ImportResult:
    """Import a ledger file in one transaction: every row is written, or none (ImportRejected).

    A dry run checks and writes the same way, then rolls back: its answer is the plan, with
    every error instead of a refusal. `check_scope` is given the sub-districts each row touches
    (before and after) and refuses those the importing person may not change."""
    sheet_plan, sheet = already_read or read_plan(content, filename, settings=settings, today=today)
    existing, held = _load(session, list(sheet_plan))
    plan = Plan()
    for code, planned in sheet_plan.items():
        record = existing.get(code)
        before = record.sub_district if record else None
        check_scope(*([before] if record else []), planned.values.get("sub_district", before))
        if record is None and planned.values["name"] is None:
            sheet.error(
                planned.row, "name", MESSAGES("import.name_required", column=HEADERS["name"])
            )
            continue
        if record is not None and not _current(sheet, planned, record):
            continue
        plan.rows[code] = planned.rows
        _plan_enterprise(plan, planned, record)
        known = [_known(d) for d in held.get(record.id, [])] if record else []
        _plan_designations(sheet, plan, code, planned, known)
    if dry_run and sheet.errors:
        return _result(sheet, plan, 0, dry_run=True)
    sheet.raise_if_errors()
    try:
        expired = _write(session, plan, actor=actor, today=today)
    except IntegrityError as exc:  # an enterprise of the file was registered meanwhile
        session.rollback()
        raise _changed_meanwhile() from exc
    except Conflict:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
        return _result(sheet, plan, expired, dry_run=True)
    return _result(sheet, plan, expired)


def _result(sheet: Sheet, plan: Plan, expired: int, *, dry_run: bool = False) -> ImportResult:
    """The counts of what would be written: an enterprise with a rejected row is counted only
    among the rejected rows, nor are its designations counted."""
    rejected = {e["loc"][1] for e in sheet.errors if e["loc"][0] == "rows" and len(e["loc"]) > 1}

    def kept(code: str) -> bool:
        return rejected.isdisjoint(plan.rows.get(code, ()))

    granted = [k for code, k in plan.granted if kept(code)]
    return ImportResult(
        dry_run=dry_run,
        errors=sorted_errors(sheet.errors),
        rows=len(sheet.rows),
        enterprises_created=sum(1 for values in plan.created if kept(values["uscc"])),
        enterprises_updated=sum(1 for record, _, _ in plan.updated if kept(record.uscc)),
        enterprises_unchanged=sum(1 for code in plan.unchanged if kept(code)),
        designations_granted=sum(1 for k in granted if k.renews is None),
        designations_renewed=sum(1 for k in granted if k.renews is not None),
        designations_revoked=sum(1 for code, *_ in plan.revoked if kept(code)),
        designations_unchanged=sum(1 for code in plan.designations_unchanged if kept(code)),
        designations_expired=expired,
        rows_rejected=len(rejected),
    )


def _load(
    session: Session, codes: list[str]
) -> tuple[dict[str, Enterprise], dict[int, list[Designation]]]:
    """The registered enterprises among `codes` and their designations.

    Nothing is locked: the writes check each version they read, so a concurrent change makes
    the whole import fail (409) rather than be overwritten.
    """
    enterprises: dict[str, Enterprise] = {}
    for part in chunks(codes):
        stmt = select(Enterprise).where(Enterprise.uscc.in_(part))
        for e in session.scalars(stmt):
            enterprises[e.uscc] = e
    held: dict[int, list[Designation]] = {}
    for ids in chunks([e.id for e in enterprises.values()]):
        stmt = select(Designation).where(Designation.enterprise_id.in_(ids))
        for d in session.scalars(stmt):
            held.setdefault(d.enterprise_id, []).append(d)
    return enterprises, held


def _current(sheet: Sheet, planned: PlannedEnterprise, record: Enterprise) -> bool:
    """False (and the row named) when the row was exported from an older version of the
    enterprise and would change it, or names another enterprise's id."""
    if planned.id is not None and planned.id != record.id:
        sheet.error(
            planned.row,
            "id",
            Text(
                f"企业编号 {planned.id} 与统一社会信用代码 {record.uscc} 不符（该企业编号为 "
                f"{record.id}）",
                f"the id {planned.id} does not match the USCC {record.uscc} (its id is "
                f"{record.id})",
            ),
        )
        return False
    if planned.version is None or planned.version == record.version:
        return True
    current = {f: getattr(record, f) for f in ENTERPRISE_FIELDS}
    given = {f: v for f, v in planned.values.items() if v is not None and f in current}
    if not diff({f: current[f] for f in given}, given):
        return True  # the enterprise itself is as registered; its designations are checked
    sheet.error(
        planned.row,
        "version",
        Text(
            f"企业 {record.id}（{record.name}）在导出后已被修改（文件中为第 {planned.version} 版，"
            f"现为第 {record.version} 版），本行未导入；请重新导出后再修改",
            f"conflict: enterprise {record.id} changed after this file was exported (the file "
            f"has version {planned.version}, it is now {record.version}); export again and "
            "re-apply the change",
        ),
    )
    return False


def _known(d: Designation) -> Known:
    return Known(
        type=d.type,
        granted_on=d.granted_on,
        last=last_day(d),
        revoked=d.revoked_on is not None,
        item_name=d.item_name,
        level=d.level,
        record=d,
        id=d.id,
    )


def _plan_enterprise(plan: Plan, planned: PlannedEnterprise, record: Enterprise | None) -> None:
    """A blank cell leaves a registered value as it is; a filled one replaces it."""
    if record is None:
        plan.created.append(planned.values)
        plan.enterprises[planned.values["uscc"]] = dict(planned.values, version=1)
        return
    current = {f: getattr(record, f) for f in ENTERPRISE_FIELDS}
    final = {f: current[f] if planned.values[f] is None else planned.values[f] for f in current}
    changes = diff(current, final)
    version = record.version + 1 if changes else record.version
    plan.enterprises[record.uscc] = dict(final, id=record.id, version=version)
    if changes:
        plan.updated.append((record, final, changes))
    else:
        plan.unchanged.append(record.uscc)


def _plan_designations(
    sheet: Sheet, plan: Plan, code: str, planned: PlannedEnterprise, known: list[Known]
) -> None:
    _link_renewals(known)
    for pd in sorted(planned.designations, key=lambda d: (d.type, d.granted_on, d.row)):
        same = _same(pd, known)
        if same is not None:
            _plan_known(sheet, plan, code, pd, same)
            continue
        if not _named(sheet, pd):
            continue
        end = last_day({"expires_on": pd.expires_on, "revoked_on": pd.revoked_on})
        clashes = [
            k
            for k in known
            if (k.type, k.item_name) == (pd.type, pd.item_name)
            and overlaps(pd.granted_on, end, k.granted_on, k.last)
        ]
        new = Known(
            pd.type,
            pd.granted_on,
            end,
            pd.revoked_on is not None,
            item_name=pd.item_name,
            level=pd.level,
            row=pd.row,
            planned=pd,
        )
        if clashes:
            # Successive certificates overlap by design: the later one continues the latest.
            prior = max(clashes, key=lambda k: (k.granted_on, k.row or 0))
            chain = _chain(prior)
            rest = [k for k in clashes if all(k is not c for c in chain)]
            if rest or prior.granted_on >= pd.granted_on or prior.revoked or prior.renewed:
                other = rest[0] if rest else prior
                where, where_zh = (
                    (f"row {other.row}", f"第 {other.row} 行")
                    if other.row
                    else (f"designation {other.id}", f"认定 {other.id}")
                )
                msg = overlap_message(pd.type, other.granted_on, other.last, other.certificate_no)
                sheet.error(
                    pd.row,
                    "granted_on",
                    MESSAGES("import.overlap", where=where, where_zh=where_zh, msg=msg),
                )
                continue
            prior.renewed, new.renews = True, prior
        known.append(new)
        plan.granted.append((code, new))
        if pd.revoked_on is not None:
            plan.revoked.append((code, new, pd.revoked_on, pd.revoke_reason))


def _named(sheet: Sheet, pd: PlannedDesignation) -> bool:
    """False (and the row named) when a new designation of a type counted as items leaves 名称
    blank; only a row naming one stored before 名称 was required (`_same`) may."""
    try:
        check_item(pd.type, pd.item_name)
    except Invalid as exc:
        sheet.error(pd.row, "item_name", exc.detail)
        return False
    return True


def _same(pd: PlannedDesignation, known: list[Known]) -> Known | None:
    """The designation a row names: same type, item and granted date, and the same level when
    the row gives one (of two granted the same day, the one at that level)."""
    matches = [
        k
        for k in known
        if (k.type, k.item_name, k.granted_on) == (pd.type, pd.item_name, pd.granted_on)
    ]
    return next((k for k in matches if k.level == pd.level), matches[0] if matches else None)


def _link_renewals(known: list[Known]) -> None:
    by_id = {k.id: k for k in known}
    for k in known:
        if k.record is not None and k.record.renews_id in by_id:
            k.renews = by_id[k.record.renews_id]
            k.renews.renewed = True


def _chain(k: Known) -> list[Known]:
    """The designation and those it continues, newest first."""
    out: list[Known] = []
    cursor: Known | None = k
    while cursor is not None and all(cursor is not c for c in out):
        out.append(cursor)
        cursor = cursor.renews
    return out


def _plan_known(sheet: Sheet, plan: Plan, code: str, pd: PlannedDesignation, k: Known) -> None:
    """A row naming a designation already known: unchanged, or its revocation."""
    if k.record is None:
        sheet.error(pd.row, "granted_on", MESSAGES("import.repeats", row=k.row))
        return
    d = k.record
    compared = {
        "designation_level": (pd.level, d.level),
        "expires_on": (pd.expires_on, d.expires_on),
        "certificate_no": (pd.certificate_no, d.certificate_no),
    }
    for name, (given, recorded) in compared.items():
        if name in pd.given and given != recorded:
            sheet.error(
                pd.row,
                name,
                MESSAGES("import.differs", given=given, id=d.id, recorded=recorded),
            )
    if pd.revoked_on is None or pd.revoked_on == d.revoked_on:
        plan.designations_unchanged.append(code)
    elif d.revoked_on is not None:
        sheet.error(
            pd.row,
            "revoked_on",
            MESSAGES("import.revoked", id=d.id, on=d.revoked_on),
        )
    elif d.expires_on is not None and pd.revoked_on > d.expires_on:
        sheet.error(
            pd.row,
            "revoked_on",
            MESSAGES("import.after_lapse", on=pd.revoked_on, expires_on=d.expires_on),
        )
    else:
        plan.revoked.append((code, k, pd.revoked_on, pd.revoke_reason))


# --- writing -------------------------------------------------------------------------------


def _write(session: Session, plan: Plan, *, actor: str, today: date) -> int:
    conn = session.connection()
    now = utcnow()
    _write_enterprises(conn, plan, now)
    designations = _write_designations(conn, plan, now)
    revoked = _write_revocations(conn, plan, designations, now)
    histories: list[dict[str, Any]] = []
    events: list[Event] = []
    for values in plan.created:
        snap = plan.enterprises[values["uscc"]]
        changes = {f: [None, v] for f, v in values.items() if v is not None}
        histories.append(_history("enterprise", snap["id"], 1, actor, changes, now))
        events.append(enterprise_event(EnterpriseRegistered, snap, snap["landed_on"] or today))
    for record, _, changes in plan.updated:
        snap = plan.enterprises[record.uscc]
        histories.append(_history("enterprise", record.id, snap["version"], actor, changes, now))
        events.append(enterprise_event(EnterpriseUpdated, snap, today))
    for code, k in plan.granted:
        d = designations[id(k)]
        changes = {f: [None, d[f]] for f in _GRANT_FIELDS if d[f] is not None}
        histories.append(_history("designation", d["id"], 1, actor, changes, now))
        kind = DesignationRenewed if k.renews is not None else DesignationGranted
        events.append(designation_event(kind, plan.enterprises[code], d, d["granted_on"]))
    for code, d, changes in revoked:
        histories.append(_history("designation", d["id"], d["version"], actor, changes, now))
        events.append(
            designation_event(DesignationRevoked, plan.enterprises[code], d, d["revoked_on"])
        )
    bulk_insert(conn, history, histories)
    bulk_insert(conn, outbox, outbox_rows(events))
    new_ids = [designations[id(k)]["id"] for _, k in plan.granted]
    return sum(len(expire_due(session, today=today, ids=part)) for part in chunks(new_ids))


_GRANT_FIELDS = ("type", "level", "granted_on", "expires_on", "certificate_no", "renews_id")


def _history(
    entity: str, entity_id: int, version: int, actor: str, changes: Any, now: datetime
) -> dict[str, Any]:
    return history_row(
        entity=entity,
        entity_id=entity_id,
        version=version,
        actor=actor,
        action=ACTION,
        changes=changes,
        at=now,
    )


def _write_enterprises(conn: Connection, plan: Plan, now: datetime) -> None:
    table = Enterprise.__table__
    ids = allocate_ids(conn, table, len(plan.created))
    rows = []
    for values, new_id in zip(plan.created, ids, strict=True):
        plan.enterprises[values["uscc"]]["id"] = new_id
        rows.append(dict(values, id=new_id, version=1, created_at=now, updated_at=now))
    bulk_insert(conn, table, rows)
    changed = [
        dict(final, _id=record.id, _version=record.version) for record, final, _ in plan.updated
    ]
    if bulk_update(conn, table, changed, ENTERPRISE_FIELDS, now) != len(changed):
        raise _changed_meanwhile()


def _changed_meanwhile() -> Conflict:
    return Conflict(MESSAGES("import.changed_meanwhile"))


def _write_designations(conn: Connection, plan: Plan, now: datetime) -> dict[int, dict[str, Any]]:
    """Insert the new designations; returns their rows keyed by id() of their Known."""
    table = Designation.__table__
    for (_, k), new_id in zip(
        plan.granted, allocate_ids(conn, table, len(plan.granted)), strict=True
    ):
        k.id = new_id
    out: dict[int, dict[str, Any]] = {}
    for code, k in plan.granted:
        pd = k.planned
        assert pd is not None
        out[id(k)] = {
            "id": k.id,
            "enterprise_id": plan.enterprises[code]["id"],
            "type": pd.type,
            "level": pd.level,
            "granted_on": pd.granted_on,
            "expires_on": pd.expires_on,
            "certificate_no": pd.certificate_no,
            "item_name": pd.item_name,
            "revoked_on": None,
            "revoke_reason": None,
            # Ids are known before anything is written, so a renewal of a designation planned
            # in this same file can name it.
            "renews_id": k.renews.id if k.renews is not None else None,
            "status": ACTIVE,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
    bulk_insert(conn, table, list(out.values()))
    return out


def _write_revocations(
    conn: Connection, plan: Plan, designations: dict[int, dict[str, Any]], now: datetime
) -> list[tuple[str, dict[str, Any], dict[str, list[Any]]]]:
    """Revoke what the sheet revokes; returns (USCC, snapshot after, changes) for each."""
    out = []
    rows = []
    for code, k, on, reason in plan.revoked:
        if k.record is not None:
            before = {c.name: getattr(k.record, c.name) for c in Designation.__table__.c}
        else:
            before = dict(designations[id(k)])
        after = dict(before, status=REVOKED, revoked_on=on, revoke_reason=reason)
        after["version"] = before["version"] + 1
        changes = diff(
            {f: before[f] for f in ("status", "revoked_on", "revoke_reason")},
            {"status": REVOKED, "revoked_on": on, "revoke_reason": reason},
        )
        out.append((code, after, changes))
        rows.append(
            {
                "_id": before["id"],
                "_version": before["version"],
                "status": REVOKED,
                "revoked_on": on,
                "revoke_reason": reason,
            }
        )
    fields = ("status", "revoked_on", "revoke_reason")
    if bulk_update(conn, Designation.__table__, rows, fields, now) != len(rows):
        raise _changed_meanwhile()
    return out
