"""Importing a ledger workbook: new projects registered, edited ones updated, the rest untouched.

A row with an `id` (as an export writes it) is that project: if nothing in it differs, nothing
is written; if something does, the project is updated at the row's `version` (an older version
is a conflict for that row), and a changed stage becomes transitions made by the stage machine
itself (`service.transition`). A row without an id is a new project, unless it matches one
already registered (its code, or its name + sub-district + category): then it is refused as a
probable duplicate. The milestones (里程碑) and blockers (难点堵点) sheets work the same way.

Everything is checked and applied in one transaction; any error rolls all of it back. A dry run
applies the same way and then rolls back, so its plan is exactly what the import would do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from services.common.bulk import among
from services.common.contracts.stages import STAGE_LABELS, STAGE_ORDER
from services.common.errors import Conflict, DomainError, PreconditionFailed
from services.common.history import jsonable
from services.common.i18n import Text
from services.common.spreadsheet import (
    ImportRejected,
    Sheet,
    parse_table,
    read_tables,
    sorted_errors,
)
from services.projects import execution, service
from services.projects.codes import normalise_project_code
from services.projects.labels import (
    BLOCKER_SHEET_TITLE,
    LEDGER_HEADERS,
    LEDGER_SHEET_TITLE,
    MESSAGES,
    MILESTONE_SHEET_TITLE,
)
from services.projects.ledger import (
    BLOCKER_COLUMNS,
    IMPORT_COLUMNS,
    MILESTONE_COLUMNS,
    STAGE_COLUMNS,
    import_rows,
)
from services.projects.models import (
    BLOCKER_FIELDS,
    EDITABLE,
    MILESTONE_FIELDS,
    Blocker,
    Milestone,
    Project,
)
from services.projects.service import PROJECT, STAGE


@dataclass
class Update:
    """An edited row of a registered project: field changes and the stages to move through."""

    row: int
    project_id: int
    version: int
    changes: dict[str, Any]
    moves: list[tuple[str, date | None]]


@dataclass
class Plan:
    """What an import does: per sheet, rows to create, update and leave as they are."""

    created: list[tuple[int, tuple[dict[str, Any], list[tuple[str, date]]]]] = field(
        default_factory=list
    )
    updates: list[Update] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)  # their row numbers
    rows: int = 0  # of the ledger sheet
    children: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    refused: set[int] = field(default_factory=set)  # rows the stage machine or a check refused

    def body(self, *, dry_run: bool) -> dict[str, Any]:
        # A row with an error is counted once, as rejected: never also as one to write, so the
        # four counts add up to the sheet's rows.
        rejected = {e["loc"][1] for e in self.errors if e["loc"][0] == "rows" and len(e["loc"]) > 1}
        created = [row for row, _ in self.created if row not in rejected]
        updated = [
            u
            for u in self.updates
            if (u.changes or u.moves) and u.row not in self.refused and u.row not in rejected
        ]
        unchanged = [row for row in self.unchanged if row not in rejected]
        out: dict[str, Any] = {
            "dry_run": dry_run,
            "rows": self.rows,
            "created": len(created),
            "updated": len(updated),
            "unchanged": len(unchanged),
            "rejected": len(rejected),
            "imported": len(created) + len(updated),
            "ids": self.ids,
            "plan": {
                "create": created,
                "update": [
                    {
                        "row": u.row,
                        "id": u.project_id,
                        "changes": {k: jsonable(v) for k, v in u.changes.items()},
                        "stages": [s for s, _ in u.moves],
                    }
                    for u in updated
                ],
            },
            "milestones": self.children.get("milestones", _counts()),
            "blockers": self.children.get("blockers", _counts()),
            "errors": sorted_errors(self.errors),
        }
        if self.skipped:
            out["skipped_rows"] = self.skipped
        return out


def _counts() -> dict[str, int]:
    return {"created": 0, "updated": 0, "unchanged": 0}


# ---- reading the workbook ----------------------------------------------------------------


def read_workbook(content: bytes, filename: str) -> tuple[Sheet, Sheet | None, Sheet | None]:
    """The ledger sheet (named 重点项目台账, else the first) and the milestone/blocker sheets."""
    wanted = (LEDGER_SHEET_TITLE, MILESTONE_SHEET_TITLE, BLOCKER_SHEET_TITLE)
    tables = dict(read_tables(content, filename, sheets=wanted))
    names = list(tables)
    main = LEDGER_SHEET_TITLE if LEDGER_SHEET_TITLE in tables else names[0]
    ledger = parse_table(main, tables[main], IMPORT_COLUMNS)
    milestones = blockers = None
    if MILESTONE_SHEET_TITLE in tables and main != MILESTONE_SHEET_TITLE:
        milestones = _optional(MILESTONE_SHEET_TITLE, tables, MILESTONE_COLUMNS)
    if BLOCKER_SHEET_TITLE in tables and main != BLOCKER_SHEET_TITLE:
        blockers = _optional(BLOCKER_SHEET_TITLE, tables, BLOCKER_COLUMNS)
    return ledger, milestones, blockers


def _optional(name: str, tables: dict[str, Any], columns: list[Any]) -> Sheet | None:
    table = tables[name]
    if not any(any(c not in (None, "") for c in row) for row in table):
        return None
    return parse_table(name, table, columns, main=False)


# ---- planning ------------------------------------------------------------------------------


Workbook = tuple[Sheet, Sheet | None, Sheet | None]


def workbook_rows(workbook: Workbook) -> int:
    """The rows of a workbook read: the ledger's and its milestones' and blockers'."""
    return sum(len(sheet.rows) for sheet in workbook if sheet is not None)


def plan_import(
    session: Session,
    content: bytes,
    filename: str,
    *,
    today: date,
    workbook: Workbook | None = None,
) -> tuple[Plan, Sheet, Sheet | None, Sheet | None]:
    """Every row checked against the file and the ledger; nothing written yet."""
    sheet, milestones, blockers = workbook or read_workbook(content, filename)
    plan = Plan(skipped=list(sheet.skipped), rows=len(sheet.rows))
    for extra in (milestones, blockers):
        if extra is not None:
            plan.skipped += extra.skipped
    keyed: list[tuple[int, dict[str, Any]]] = []
    fresh: list[tuple[int, dict[str, Any]]] = []
    for row_no, values in sheet.rows:
        if values.get("code"):
            values["code"] = normalise_project_code(values["code"])
        (keyed if values.get("id") is not None else fresh).append((row_no, values))
    _check_in_file(sheet, sheet.rows)
    existing = _load(session, [v["id"] for _, v in keyed])
    for row_no, values in keyed:
        if values["id"] not in existing:  # exported by another deployment: a new project here
            fresh.append((row_no, values))
            continue
        _plan_edit(sheet, plan, row_no, values, existing, today)
    fresh.sort(key=lambda r: r[0])
    for row_no, values in fresh:
        _check_fields(sheet, row_no, values, today)
    _plan_new(session, sheet, plan, fresh, today)
    if not sheet.rows and not sheet.errors and milestones is None and blockers is None:
        sheet.errors.append({"loc": ["rows"], "msg": MESSAGES("import.no_rows")})
    plan.errors += sheet.errors
    return plan, sheet, milestones, blockers


def _check_fields(sheet: Sheet, row_no: int, values: dict[str, Any], today: date) -> None:
    for fld, msg in service.field_problems(values, today=today):
        sheet.error(row_no, fld, msg)


def _check_in_file(sheet: Sheet, rows: list[tuple[int, dict[str, Any]]]) -> None:
    codes: dict[str, int] = {}
    ids: dict[int, int] = {}
    for row_no, values in rows:
        code, pid = values.get("code"), values.get("id")
        if code and code in codes:
            sheet.error(row_no, "code", MESSAGES("import.code_in_file", code=code, row=codes[code]))
        elif code:
            codes[code] = row_no
        if pid is not None and pid in ids:
            sheet.error(row_no, "id", MESSAGES("import.id_in_file", id=pid, row=ids[pid]))
        elif pid is not None:
            ids[pid] = row_no


def _load(session: Session, ids: list[int]) -> dict[int, tuple[dict[str, Any], list]]:
    """The registered projects among `ids`, each with its stage entries: two queries."""
    out: dict[int, tuple[dict[str, Any], list]] = {}
    if not ids:
        return out
    dialect = session.get_bind().dialect.name
    columns = [PROJECT.c.id, PROJECT.c.version, PROJECT.c.stage, PROJECT.c.created_on]
    columns += [PROJECT.c[f] for f in EDITABLE]
    names = [c.name for c in columns]
    wanted = sorted(set(ids))
    for p in session.execute(select(*columns).where(among(dialect, PROJECT.c.id, wanted))):
        out[p[0]] = (dict(zip(names, p, strict=True)), [])
    for pid, stage, on in session.execute(
        select(STAGE.c.project_id, STAGE.c.stage, STAGE.c.entered_on)
        .where(among(dialect, STAGE.c.project_id, wanted))
        .order_by(STAGE.c.project_id, STAGE.c.ordinal)
    ):
        out[pid][1].append((stage, on))
    return out


def _plan_edit(
    sheet: Sheet,
    plan: Plan,
    row_no: int,
    values: dict[str, Any],
    existing: dict[int, tuple[dict[str, Any], list]],
    today: date,
) -> None:
    """Compare a row carrying an id with the project it names."""
    pid = values["id"]
    current, entries = existing[pid]
    changes = {
        f: values[f]
        for f in EDITABLE
        if f in sheet.columns
        and f in values  # a cell that could not be read is reported already
        and values[f] != current[f]
        and jsonable(values[f]) != jsonable(current[f])
    }
    if "quantity_unit" in changes and values.get("quantity_unit") is None:
        del changes["quantity_unit"]  # a blank unit keeps the category's default
    if values.get("name") is None or values.get("category") is None:
        return  # required: already reported
    created = values.get("created_on")
    if "created_on" in sheet.columns and created and created != current["created_on"]:
        recorded = current["created_on"].isoformat()
        sheet.error(row_no, "created_on", MESSAGES("import.created_on_rewrite", recorded=recorded))
    moves = _stage_moves(sheet, row_no, values, current, entries, today)
    if moves is None or not (changes or moves):
        if moves is not None:
            plan.unchanged.append(row_no)
        return
    if changes:  # rows as registered need no checks; changed ones do
        _check_fields(sheet, row_no, values, today)
    version = values.get("version")
    if version is None:
        sheet.error(row_no, "version", MESSAGES("import.no_version"))
        return
    if version != current["version"]:
        msg = MESSAGES("import.stale", id=pid, given=version, current=current["version"])
        sheet.error(row_no, "version", msg)
        return
    plan.updates.append(Update(row_no, pid, version, changes, moves))


def _stage_moves(
    sheet: Sheet,
    row_no: int,
    values: dict[str, Any],
    current: dict[str, Any],
    entries: list[tuple[str, date]],
    today: date,
) -> list[tuple[str, date | None]] | None:
    """The transitions a row asks of a registered project (None after an error in the row).

    Recorded stage dates stay as they are; a date column filled for a stage not yet entered, or
    a different 当前阶段, asks for a move, which the stage machine then allows or refuses.
    """
    recorded = dict(entries)
    given = {s: values[f] for s, f in STAGE_COLUMNS.items() if f in sheet.columns and values.get(f)}
    ok = True
    for stage, on in given.items():
        if stage in recorded and recorded[stage] != on:
            column = STAGE_COLUMNS[stage]
            msg = MESSAGES("import.stage_date_rewrite", recorded=recorded[stage].isoformat())
            sheet.error(row_no, column, msg)
            ok = False
    if not ok:
        return None
    new = [s for s in (*STAGE_ORDER, "cancelled") if s in given and s not in recorded]
    wanted = values.get("stage") if "stage" in sheet.columns else None
    wanted = wanted or (new[-1] if new else current["stage"])
    if wanted == current["stage"]:
        if new:
            column = LEDGER_HEADERS[STAGE_COLUMNS[new[-1]]]
            msg = MESSAGES(
                "import.stage_mismatch",
                stage=STAGE_LABELS[wanted],
                stage_en=wanted,
                column=column,
            )
            sheet.error(row_no, "stage", msg)
            return None
        return []
    steps = [s for s in new if s != wanted and wanted != "cancelled" and _before(s, wanted)]
    if wanted == "cancelled":
        steps = [s for s in new if s != "cancelled"]
    return [(s, given[s]) for s in steps] + [(wanted, given.get(wanted))]


def _before(stage: str, other: str) -> bool:
    if stage not in STAGE_ORDER or other not in STAGE_ORDER:
        return False
    return STAGE_ORDER.index(stage) < STAGE_ORDER.index(other)


def _stage_entries(
    sheet: Sheet, row_no: int, values: dict[str, Any], today: date
) -> list[tuple[str, date]]:
    """A new project's stage history from its date columns, checked as the stage machine would
    check the same moves one by one."""
    entries = [(s, values[f]) for s, f in STAGE_COLUMNS.items() if values.get(f)]
    h = LEDGER_HEADERS
    for (s1, d1), (s2, d2) in zip(entries, entries[1:], strict=False):
        if d2 < d1:
            msg = MESSAGES(
                "import.date_order",
                later=h[STAGE_COLUMNS[s2]],
                d2=d2,
                earlier=h[STAGE_COLUMNS[s1]],
                d1=d1,
            )
            sheet.error(row_no, STAGE_COLUMNS[s2], msg)
    for s, d in entries:
        if d > today:
            sheet.error(row_no, STAGE_COLUMNS[s], MESSAGES("future", value=d, today=today))
    if entries and entries[-1][0] == "built" and values.get("cancelled_on"):
        sheet.error(row_no, "cancelled_on", MESSAGES("import.built_cancelled"))
    if [s for s, _ in entries] == ["cancelled"]:
        sheet.error(row_no, "cancelled_on", MESSAGES("import.cancel_from"))
    stage = values.get("stage")
    if not entries:
        if stage == "cancelled":
            sheet.error(row_no, "stage", MESSAGES("import.cancelled_needs_date"))
        return [(stage or "reserve", values.get("created_on") or today)]
    if stage and stage != entries[-1][0]:
        msg = MESSAGES(
            "import.stage_mismatch",
            stage=STAGE_LABELS[stage],
            stage_en=stage,
            column=h[STAGE_COLUMNS[entries[-1][0]]],
        )
        sheet.error(row_no, "stage", msg)
    return entries


def _plan_new(
    session: Session,
    sheet: Sheet,
    plan: Plan,
    rows: list[tuple[int, dict[str, Any]]],
    today: date,
) -> None:
    """New projects, unless one already registered matches by code or name+street+category."""
    dialect = session.get_bind().dialect.name
    codes = sorted({v["code"] for _, v in rows if v.get("code")})
    by_code: dict[str, tuple[int, str]] = {}
    if codes:
        for r in session.execute(
            select(PROJECT.c.code, PROJECT.c.id, PROJECT.c.name).where(
                among(dialect, PROJECT.c.code, codes)
            )
        ):
            by_code[r.code] = (r.id, r.name)
    # The registered projects of the rows' names, the names as one parameter (not a pair of
    # placeholders per row); a row matches one of them by name, street and category below.
    names = sorted({v["name"] for _, v in rows if v.get("name")})
    by_name: dict[tuple[str, str | None, str], int] = {}
    if names:
        for r in session.execute(
            select(PROJECT.c.id, PROJECT.c.name, PROJECT.c.sub_district, PROJECT.c.category)
            .where(among(dialect, PROJECT.c.name, names))
            .order_by(PROJECT.c.id)
        ):
            by_name.setdefault((r.name, r.sub_district, r.category), r.id)
    for row_no, values in rows:
        code = values.get("code")
        if code and code in by_code:
            pid, name = by_code[code]
            sheet.error(row_no, "code", MESSAGES("import.dup_code", code=code, id=pid, name=name))
            continue
        key = (values.get("name"), values.get("sub_district"), values.get("category"))
        if key in by_name:
            sheet.row_error(row_no, MESSAGES("import.dup_name", id=by_name[key]))
            continue
        plan.created.append((row_no, (values, _stage_entries(sheet, row_no, values, today))))


# ---- applying ------------------------------------------------------------------------------


def apply(
    session: Session,
    plan: Plan,
    sheet: Sheet,
    milestones: Sheet | None,
    blockers: Sheet | None,
    *,
    actor: str,
    today: date,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the plan in the caller's transaction; refusals of the stage machine become errors.

    A dry run does not insert the new projects (they were fully checked already) but does make
    every update and transition, which the caller then rolls back."""
    if plan.created and not plan.errors and not dry_run:
        plan.ids = import_rows(
            session, [rows for _, rows in plan.created], actor=actor, progress=progress
        )
    for u in plan.updates:
        project = session.get(Project, u.project_id)
        assert project is not None
        try:
            if u.changes:
                service.update_project(
                    session,
                    project=project,
                    changes=dict(u.changes),
                    expected_version=u.version,
                    actor=actor,
                    today=today,
                )
            for stage, on in u.moves:
                service.transition(
                    session, project=project, to=stage, on=on, note=None, actor=actor, today=today
                )
        except PreconditionFailed as exc:  # changed by someone else since it was read
            raise Conflict(MESSAGES("import.changed_meanwhile")) from exc
        except DomainError as exc:
            plan.refused.add(u.row)
            field_ = (
                "stage"
                if exc.errors and exc.errors[0]["loc"][:1] in (["to"], ["on"])
                else (str(exc.errors[0]["loc"][-1]) if exc.errors else "row")
            )
            sheet.error(u.row, field_, exc.detail)
    if milestones is not None:
        plan.children["milestones"] = _apply_children(
            session, milestones, Milestone, MILESTONE_FIELDS, actor=actor, today=today
        )
        plan.errors += milestones.errors
    if blockers is not None:
        plan.children["blockers"] = _apply_children(
            session, blockers, Blocker, BLOCKER_FIELDS, actor=actor, today=today
        )
        plan.errors += blockers.errors
    plan.errors = _unique(plan.errors + sheet.errors)


def _unique(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in errors:
        key = (repr(e["loc"]), repr(e["msg"]))
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


_WHAT = {
    Milestone: (Text("里程碑", "milestone"), "milestone"),
    Blocker: (Text("难点", "blocker"), "blocker"),
}


def _apply_children(
    session: Session,
    sheet: Sheet,
    model: type[Milestone] | type[Blocker],
    fields: tuple[str, ...],
    *,
    actor: str,
    today: date,
) -> dict[str, int]:
    """Milestones or blockers of the sheet: added, updated at their version, or unchanged."""
    counts = _counts()
    what, what_en = _WHAT[model]
    for row_no, values in sheet.rows:
        if any(e["loc"][2] == row_no for e in sheet.errors if len(e["loc"]) > 2):
            continue
        project = session.get(Project, values["project_id"])
        if project is None:
            sheet.error(
                row_no, "project_id", MESSAGES("import.no_project", id=values["project_id"])
            )
            continue
        given = {f: values.get(f) for f in fields if f in sheet.columns}
        if given.get("kind") is None:
            given.pop("kind", None)
        try:
            if values.get("id") is None:
                _add_child(session, model, project, given, actor, today)
                counts["created"] += 1
                continue
            child = session.get(model, values["id"])
            if child is None or child.project_id != project.id:
                msg = MESSAGES(
                    "import.no_child",
                    project=project.id,
                    id=values["id"],
                    what=what,
                    what_en=what_en,
                )
                sheet.error(row_no, "id", msg)
                continue
            before = child.model_dump()
            changes = {f: v for f, v in given.items() if jsonable(v) != jsonable(before[f])}
            if not changes:
                counts["unchanged"] += 1
                continue
            if values.get("version") != child.version:
                msg = MESSAGES(
                    "import.child_stale",
                    id=child.id,
                    what=what,
                    what_en=what_en,
                    given=values.get("version"),
                    current=child.version,
                )
                sheet.error(row_no, "version", msg)
                continue
            _update_child(session, model, child, changes, actor, today)
            counts["updated"] += 1
        except PreconditionFailed as exc:
            raise Conflict(MESSAGES("import.changed_meanwhile")) from exc
        except DomainError as exc:
            field_ = str(exc.errors[0]["loc"][-1]) if exc.errors else "id"
            sheet.error(row_no, field_, exc.detail)
    return counts


def _add_child(
    session: Session, model: Any, project: Project, data: dict[str, Any], actor: str, today: date
) -> None:
    add = execution.add_milestone if model is Milestone else execution.raise_blocker
    add(session, project=project, data=data, actor=actor, today=today)


def _update_child(
    session: Session, model: Any, child: Any, changes: dict[str, Any], actor: str, today: date
) -> None:
    update = execution.update_milestone if model is Milestone else execution.update_blocker
    update(
        session, child, changes=changes, expected_version=child.version, actor=actor, today=today
    )


def touched_sub_districts(
    session: Session, plan: Plan, *children: Sheet | None
) -> list[str | None]:
    """The sub-districts of every project the plan creates, edits (before and after) or adds
    milestones and blockers to."""
    out: list[str | None] = [values.get("sub_district") for _, (values, _) in plan.created]
    out += [u.changes["sub_district"] for u in plan.updates if "sub_district" in u.changes]
    ids = {u.project_id for u in plan.updates}
    for sheet in children:
        if sheet is not None:
            ids |= {v["project_id"] for _, v in sheet.rows if isinstance(v.get("project_id"), int)}
    if ids:
        dialect = session.get_bind().dialect.name
        where = among(dialect, PROJECT.c.id, sorted(ids))
        out += session.scalars(select(PROJECT.c.sub_district).distinct().where(where)).all()
    return out


def import_ledger(
    session: Session,
    content: bytes,
    filename: str,
    *,
    actor: str,
    today: date,
    dry_run: bool = False,
    check_scope: Callable[..., None] = lambda *_: None,
    workbook: Workbook | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Plan and apply an import in the session's transaction; the answer says what it did.

    A dry run, or any error, rolls everything back; errors raise ImportRejected (with the plan)
    unless it is a dry run, whose answer lists them. `check_scope` is given every sub-district
    the import would change records of, and refuses those the importing person may not change.
    """
    plan, sheet, milestones, blockers = plan_import(
        session, content, filename, today=today, workbook=workbook
    )
    check_scope(*touched_sub_districts(session, plan, milestones, blockers))
    if not plan.errors or dry_run:
        apply(
            session,
            plan,
            sheet,
            milestones,
            blockers,
            actor=actor,
            today=today,
            dry_run=dry_run,
            progress=progress,
        )
    else:
        for extra in (milestones, blockers):
            if extra is not None:
                plan.errors += extra.errors
    body = plan.body(dry_run=dry_run)
    if dry_run or plan.errors:
        session.rollback()
    if plan.errors and not dry_run:
        extra = {k: v for k, v in body.items() if k not in ("errors", "ids")}
        raise ImportRejected(body["errors"], extra=extra)
    return body
