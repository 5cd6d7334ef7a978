"""Publish plantrack projects as Open Contracting for Infrastructure Data Standard 0.9 JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from services.common.contracts.calendar import business_date
from services.common.contracts.categories import CATEGORY_LABELS, PROJECT_CATEGORIES
from services.projects.catalogue import (
    CITY_NAME,
    COUNTRY_NAME,
    DISTRICT_NAME,
    DISTRICT_POSTAL_CODE,
    DISTRICT_REGION_CODE,
    LEVEL_LABELS,
    MILESTONE_KIND_LABELS,
    NON_INFRASTRUCTURE,
    PLAN_TITLE,
    PROVINCE_NAME,
    QUANTITY_TITLE,
)

OC4IDS_VERSION = "0.9"
ID_PREFIX = "oc4ids-plantrack-"
LANGUAGE = "zh"
CURRENCY = "CNY"
WAN = 10_000
CHINA_TIME = timezone(timedelta(hours=8), "CST")

PLANTRACK_SCHEME = "plantrack"
NATIONAL_CODE_SCHEME = "tzxm.gov.cn"
"""The national online approval platform for investment projects, which issues 项目代码."""
CATEGORY_SCHEME = "plantrack-category"
LEVEL_SCHEME = "plantrack-level"
GAZETTEER_SCHEME = "GB/T 2260"

PROJECT_STATUS: dict[str, str] = {
    "reserve": "identification",
    "starting": "implementation",
    "building": "implementation",
    "built": "completion",
    "cancelled": "cancelled",
}

# plantrack milestone kind → OC4IDS (milestoneType, milestoneCode); both codelists are open.
MILESTONE_TYPES: dict[str, tuple[str | None, str | None]] = {
    "approval": ("approval", "projectApproval"),
    "land": ("preProcurement", None),
    "start": ("delivery", "commencement"),
    "topping_out": ("delivery", None),
    "completion": ("delivery", "completion"),
    "acceptance": ("delivery", "commissioning"),
    "other": (None, None),
}

_UNCEFACT = {"km": "KMT"}


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _day(value: date) -> str:
    """A business date as an OC4IDS date-time: midnight, China time."""
    return datetime.combine(value, time(), CHINA_TIME).isoformat()


def _timestamp(value: Any) -> str:
    """An instant as an RFC 3339 date-time; naive values are taken as UTC, as stored."""
    moment = value if isinstance(value, datetime) else None
    if moment is None and isinstance(value, date):
        return _day(value)
    if moment is None:
        moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _number(value: Any) -> int | float:
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def _milestone_status(due_on: date | None, done_on: date | None, today: date) -> str:
    if done_on is not None:
        return "met"
    if due_on is not None and due_on < today:
        return "notMet"
    return "scheduled"


def _milestone(m: Mapping[str, Any], index: int, today: date) -> dict[str, Any]:
    kind = m.get("kind") or "other"
    due_on, done_on = _as_date(m.get("due_on")), _as_date(m.get("done_on"))
    out: dict[str, Any] = {
        "id": str(m["id"]) if m.get("id") is not None else str(index),
        "title": m.get("title") or MILESTONE_KIND_LABELS.get(kind, kind),
    }
    type_, code = MILESTONE_TYPES.get(kind, (None, None))
    if type_:
        out["type"] = type_
    if code:
        out["code"] = code
    if due_on:
        out["dueDate"] = _day(due_on)
    if done_on:
        out["dateMet"] = _day(done_on)
    out["status"] = _milestone_status(due_on, done_on, today)
    return out


def _status(stage: str, milestones: list[Mapping[str, Any]]) -> str:
    # An approved reserve project is being prepared rather than merely identified.
    if stage == "reserve" and any(
        m.get("kind") == "approval" and m.get("done_on") for m in milestones
    ):
        return "preparation"
    return PROJECT_STATUS[stage]


def _completion_date(p: Mapping[str, Any], milestones: list[Mapping[str, Any]]) -> date | None:
    explicit = _as_date(p.get("built_on") or p.get("completed_on"))
    if explicit:
        return explicit
    done = [
        d
        for m in milestones
        if m.get("kind") in ("completion", "acceptance")
        and (d := _as_date(m.get("done_on"))) is not None
    ]
    return max(done, default=None)


def _location(sub_district: str | None) -> dict[str, Any]:
    address: dict[str, str] = {
        "locality": f"{CITY_NAME}{DISTRICT_NAME}",
        "region": PROVINCE_NAME,
        "postalCode": DISTRICT_POSTAL_CODE,
        "countryName": COUNTRY_NAME,
    }
    if sub_district:
        address["streetAddress"] = sub_district
    return {
        "id": "1",
        "description": f"{PROVINCE_NAME}{CITY_NAME}{DISTRICT_NAME}{sub_district or ''}",
        "gazetteer": {"scheme": GAZETTEER_SCHEME, "identifiers": [DISTRICT_REGION_CODE]},
        "address": address,
    }


def _quantity_metric(quantity: Any, unit: str | None) -> dict[str, Any]:
    observation: dict[str, Any] = {"id": "planned", "measure": _number(quantity)}
    if unit:
        observation["unit"] = {"name": unit}
        if unit in _UNCEFACT:
            observation["unit"].update(scheme="UNCEFACT", id=_UNCEFACT[unit])
    return {"id": "quantity", "title": QUANTITY_TITLE, "observations": [observation]}


def to_oc4ids_project(
    p: Mapping[str, Any], *, today: date | None = None, id_prefix: str = ID_PREFIX
) -> dict[str, Any]:
    """One plantrack project (as in the API's project shape) as an OC4IDS project object."""
    today = today or business_date()
    category_key = p.get("category") or "other"
    category = PROJECT_CATEGORIES.get(category_key, PROJECT_CATEGORIES["other"])
    stage = p.get("stage") or "reserve"
    milestones: list[Mapping[str, Any]] = list(p.get("milestones") or [])

    identifiers = [{"id": str(p["id"]), "scheme": PLANTRACK_SCHEME}]
    if p.get("code"):
        identifiers.append({"id": str(p["code"]), "scheme": NATIONAL_CODE_SCHEME})

    out: dict[str, Any] = {
        "id": f"{id_prefix}{p['id']}",
        "language": LANGUAGE,
        "identifiers": identifiers,
        "title": p["name"],
        "status": _status(stage, milestones),
        "type": category.oc4ids_type,
        "locations": [_location(p.get("sub_district"))],
    }
    if p.get("updated_at"):
        out["updated"] = _timestamp(p["updated_at"])
    if category.sectors:
        out["sector"] = list(category.sectors)

    classifications = [
        {
            "scheme": CATEGORY_SCHEME,
            "id": category_key,
            "description": CATEGORY_LABELS.get(category_key, category.label),
        }
    ]
    if p.get("level") in LEVEL_LABELS:
        level = p["level"]
        classifications.append(
            {"scheme": LEVEL_SCHEME, "id": level, "description": LEVEL_LABELS[level]}
        )
    out["additionalClassifications"] = classifications

    if p.get("total_investment_wan") is not None:
        amount = _number(Decimal(str(p["total_investment_wan"])) * WAN)
        out["budget"] = {"amount": {"amount": amount, "currency": CURRENCY}}

    period = {
        key: _day(d)
        for key, field in (("startDate", "planned_start"), ("endDate", "planned_completion"))
        if (d := _as_date(p.get(field))) is not None
    }
    if period:
        out["period"] = period

    if p.get("lead_department"):
        department = str(p["lead_department"])
        party_id = f"{DISTRICT_REGION_CODE}-{department}"
        out["publicAuthority"] = {"id": party_id, "name": department}
        out["parties"] = [
            {
                "id": party_id,
                "name": department,
                "roles": ["publicAuthority"],
                "address": _location(None)["address"],
            }
        ]

    if p.get("plan_clause"):
        out["policyAlignment"] = {"description": f"《{PLAN_TITLE}》第{p['plan_clause']}条"}

    if p.get("quantity") is not None:
        out["metrics"] = [_quantity_metric(p["quantity"], p.get("quantity_unit"))]

    if milestones:
        out["milestones"] = [_milestone(m, i, today) for i, m in enumerate(milestones, start=1)]

    if stage == "built" and (finished := _completion_date(p, milestones)) is not None:
        out["completion"] = {"endDate": _day(finished)}
    return out


def to_oc4ids_package(
    projects: Iterable[Mapping[str, Any]],
    *,
    published_date: datetime | date | str,
    uri: str,
    publisher: str | Mapping[str, Any],
    today: date | None = None,
    id_prefix: str = ID_PREFIX,
    license_url: str | None = None,
) -> dict[str, Any]:
    """A project package of the given projects; the schema wants at least one project."""
    publisher_obj = {"name": publisher} if isinstance(publisher, str) else dict(publisher)
    package: dict[str, Any] = {
        "uri": uri,
        "publisher": publisher_obj,
        "publishedDate": _timestamp(published_date),
        "version": OC4IDS_VERSION,
        "projects": [
            to_oc4ids_project(p, today=today, id_prefix=id_prefix)
            for p in projects
            if p.get("category") not in NON_INFRASTRUCTURE
        ],
    }
    if license_url:
        package["license"] = license_url
    return package
