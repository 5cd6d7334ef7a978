"""The enterprise ledger (台账) as a spreadsheet: export, and an all-or-nothing import by USCC."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.contracts.designations import DESIGNATION_LABELS
from services.common.errors import Invalid, validation_text
from services.common.labels import MESSAGES as COMMON
from services.common.settings import Settings
from services.common.spreadsheet import (
    Column,
    Sheet,
    date_cell,
    date_value,
    integer,
    read_sheet,
    text,
)
from services.enterprises import catalogue
from services.enterprises.designations import check_item, check_validity, expiry_for
from services.enterprises.labels import MESSAGES
from services.enterprises.models import (
    ENTERPRISE_FIELDS,
    Designation,
    Enterprise,
    EnterpriseUpdate,
)
from services.enterprises.service import check_chain, check_uscc

STATUS_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}
SHEET_TITLE = "企业台账"
EXPORT_FILENAME = "企业台账"
CHUNK = 900  # stays under SQLite's bound-parameter limit in IN (…) lists


def _coded(labels: Mapping[str, str], *, upper: bool = False) -> Any:
    """A parser for a code column: the code (any case if `upper`) or its Chinese label."""
    by_label = {label: code for code, label in labels.items()}

    def parse(value: Any) -> str:
        raw = text(value)
        code = raw.upper() if upper else raw
        if code in labels:
            return code
        if raw in by_label:
            return by_label[raw]
        options = ", ".join(f"{c} ({lbl})" for c, lbl in labels.items())
        raise ValueError(COMMON("not_one_of", value=raw, options=options))

    return parse


def _label(labels: Mapping[str, str]) -> Any:
    return lambda code: labels.get(code, code)


DESIGNATION_COLUMNS = (
    "designation_type",
    "item_name",
    "designation_level",
    "granted_on",
    "expires_on",
    "certificate_no",
    "revoked_on",
    "revoke_reason",
)

COLUMNS: list[Column] = [
    Column("uscc", "统一社会信用代码", text, required=True),
    # Required for a new enterprise only (checked against the registry): further rows of one
    # code, or rows adding designations to a registered enterprise, may leave it blank.
    Column("name", "企业名称", text),
    Column(
        "industry_section",
        "行业门类",
        _coded(catalogue.INDUSTRY_SECTIONS, upper=True),
        _label(catalogue.INDUSTRY_SECTIONS),
    ),
    Column("industry_chain", "产业链", text),
    Column("sub_district", "所属街道", text),
    Column("size", "企业规模", _coded(catalogue.SIZE_LABELS), _label(catalogue.SIZE_LABELS)),
    Column("landed_on", "落地日期", date_value, date_cell),
    Column(
        "source_channel",
        "来源渠道",
        _coded(catalogue.SOURCE_CHANNEL_LABELS),
        _label(catalogue.SOURCE_CHANNEL_LABELS),
    ),
    Column(
        "designation_type",
        "认定类型",
        _coded(DESIGNATION_LABELS),
        _label(DESIGNATION_LABELS),
    ),
    # The item a designation counted as items is for (a lab, a platform, a first store): one
    # enterprise may hold several of one type, told apart by this name. Blank for the others.
    Column("item_name", "名称", text),
    Column(
        "designation_level",
        "认定级别",
        _coded(catalogue.LEVEL_LABELS),
        _label(catalogue.LEVEL_LABELS),
    ),
    Column("granted_on", "认定日期", date_value, date_cell),
    Column("expires_on", "有效期至", date_value, date_cell),
    Column("certificate_no", "证书编号", text),
    Column("revoked_on", "撤销日期", date_value, date_cell),
    Column("revoke_reason", "撤销原因", text),
    # What an export carries so that importing it back is a round trip: a row whose version is
    # older than the enterprise's is refused rather than overwriting a later change.
    Column("id", "企业编号", integer),
    Column("version", "版本", integer),
]
"""The columns an import reads; the export writes these and a status column after them."""

EXPORT_COLUMNS: list[Column] = [
    *COLUMNS[:-2],
    Column("status", "认定状态", text, _label(STATUS_LABELS)),
    *COLUMNS[-2:],
]
HEADERS = {c.field: c.header for c in COLUMNS}


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- export --------------------------------------------------------------------------------


def ledger_rows(session: Session, enterprises: Iterable[Enterprise]) -> Iterator[dict[str, Any]]:
    """One row per designation (an enterprise without any gets one row of its own)."""
    enterprises = list(enterprises)
    held: dict[int, list[Designation]] = {}
    for ids in chunks([e.id for e in enterprises]):
        for d in session.scalars(
            select(Designation)
            .where(Designation.enterprise_id.in_(ids))
            .order_by(Designation.enterprise_id, Designation.granted_on, Designation.id)
        ):
            held.setdefault(d.enterprise_id, []).append(d)
    for e in enterprises:
        base = {f: getattr(e, f) for f in ENTERPRISE_FIELDS}
        base.update(id=e.id, version=e.version)
        designations = held.get(e.id) or [None]
        for d in designations:
            row = dict(base)
            if d is not None:
                row.update(
                    designation_type=d.type,
                    item_name=d.item_name,
                    designation_level=d.level,
                    granted_on=d.granted_on,
                    expires_on=d.expires_on,
                    certificate_no=d.certificate_no,
                    revoked_on=d.revoked_on,
                    revoke_reason=d.revoke_reason,
                    status=d.status,
                )
            yield row


# --- import: reading and checking the sheet ------------------------------------------------


@dataclass
class PlannedDesignation:
    """A designation row of the sheet, checked and ready to write."""

    row: int
    type: str
    level: str
    granted_on: date
    expires_on: date | None
    certificate_no: str | None
    revoked_on: date | None
    revoke_reason: str | None
    item_name: str | None = None
    given: frozenset[str] = frozenset()


@dataclass
class PlannedEnterprise:
    """An enterprise of the sheet (its rows merged), with the designations given for it."""

    row: int
    values: dict[str, Any]
    designations: list[PlannedDesignation] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # every row naming it
    id: int | None = None  # as the export carried them
    version: int | None = None


def read_plan(
    content: bytes, filename: str, *, settings: Settings, today: date
) -> tuple[dict[str, PlannedEnterprise], Sheet]:
    """The sheet's enterprises by USCC, and the sheet with every problem found in its cells.

    The caller adds what it finds against the registry, then raises them all together.
    """
    sheet = read_sheet(content, filename, COLUMNS)
    plan: dict[str, PlannedEnterprise] = {}
    for row, values in sheet.rows:
        code = _checked_enterprise(sheet, row, values, settings)
        designation = _checked_designation(sheet, row, values, settings, today)
        if code is None:
            continue
        enterprise_values = {f: values.get(f) for f in ENTERPRISE_FIELDS}
        enterprise_values["uscc"] = code
        planned = plan.get(code)
        if planned is None:
            planned = plan[code] = PlannedEnterprise(row=row, values=enterprise_values)
        else:
            _merge(sheet, row, planned, enterprise_values)
        planned.rows.append(row)
        planned.id = planned.id if planned.id is not None else values.get("id")
        planned.version = planned.version if planned.version is not None else values.get("version")
        if designation is not None:
            planned.designations.append(designation)
    return plan, sheet


def _checked_enterprise(
    sheet: Sheet, row: int, values: dict[str, Any], settings: Settings
) -> str | None:
    code = None
    if values.get("uscc") is not None:
        try:
            code = check_uscc(values["uscc"], loc=("rows", row, "uscc"))
        except Invalid as exc:
            sheet.error(row, "uscc", exc.detail)
    try:
        check_chain(values.get("industry_chain"), settings)
    except Invalid as exc:
        sheet.error(row, "industry_chain", exc.detail)
    given = {f: values[f] for f in ENTERPRISE_FIELDS if values.get(f) is not None}
    try:
        EnterpriseUpdate.model_validate(given)  # lengths and codes, as the API checks them
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "row"
            sheet.error(row, name, validation_text(err))
    return code


def _checked_designation(
    sheet: Sheet, row: int, values: dict[str, Any], settings: Settings, today: date
) -> PlannedDesignation | None:
    type_key = values.get("designation_type")
    if type_key is None:
        stray = [f for f in DESIGNATION_COLUMNS if values.get(f) is not None]
        if stray:
            sheet.error(
                row,
                "designation_type",
                MESSAGES(
                    "import.type_required",
                    column=HEADERS["designation_type"],
                    given="、".join(HEADERS[f] for f in stray),
                ),
            )
        return None
    if values.get("granted_on") is None:
        sheet.error(
            row, "granted_on", MESSAGES("import.granted_required", column=HEADERS["granted_on"])
        )
        return None
    try:
        # A blank 名称 of a type counted as items may be a designation stored before 名称 was
        # required: only the registry can tell, so the import checks it there.
        if values.get("item_name") is not None:
            check_item(type_key, values["item_name"])
        level = catalogue.resolve_level(type_key, values.get("designation_level"))
        expires_on = expiry_for(type_key, values["granted_on"], values.get("expires_on"), settings)
        check_validity(values["granted_on"], expires_on, today=today)
        revoked_on = values.get("revoked_on")
        if revoked_on is not None:
            _check_revocation(revoked_on, values["granted_on"], expires_on, today)
    except Invalid as exc:
        name = str(exc.errors[0]["loc"][-1]) if exc.errors else "designation_type"
        name = "designation_level" if name == "level" else name
        sheet.error(row, name, exc.detail)
        return None
    return PlannedDesignation(
        row=row,
        type=type_key,
        level=level,
        granted_on=values["granted_on"],
        expires_on=expires_on,
        certificate_no=values.get("certificate_no"),
        revoked_on=revoked_on,
        revoke_reason=values.get("revoke_reason"),
        item_name=values.get("item_name"),
        given=frozenset(f for f in DESIGNATION_COLUMNS if values.get(f) is not None),
    )


def _check_revocation(on: date, granted_on: date, expires_on: date | None, today: date) -> None:
    if on < granted_on:
        raise Invalid(MESSAGES("revoke.before", on=on, granted_on=granted_on), loc=["revoked_on"])
    if on > today:
        raise Invalid(MESSAGES("revoke.future", on=on, today=today), loc=["revoked_on"])
    if expires_on is not None and on > expires_on:
        raise Invalid(
            MESSAGES("revoke.after_lapse", on=on, expires_on=expires_on), loc=["revoked_on"]
        )


def _merge(sheet: Sheet, row: int, planned: PlannedEnterprise, values: dict[str, Any]) -> None:
    """Rows of one USCC describe one enterprise: a value may be repeated or left blank."""
    for name, value in values.items():
        if value is None:
            continue
        first = planned.values.get(name)
        if first is None:
            planned.values[name] = value
        elif first != value:
            sheet.error(
                row,
                name,
                MESSAGES(
                    "import.differs_in_file",
                    value=value,
                    first=first,
                    column=HEADERS["uscc"],
                    row=planned.row,
                ),
            )
