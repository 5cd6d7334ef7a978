"""OC4IDS export: projects of every stage map to a package that validates against 0.9.4."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

from services.common.contracts.categories import PROJECT_CATEGORIES
from services.projects.catalogue import NON_INFRASTRUCTURE
from services.projects.oc4ids import ID_PREFIX, to_oc4ids_package, to_oc4ids_project

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SCHEMAS = SHARED / "oc4ids-0.9.4"
TODAY = date(2024, 6, 1)

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value)
    return True


@formats.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


def _no_fetching(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    project_schema = load("project-schema.json")
    package_schema = load("project-package-schema.json")
    # The package refers to the project schema by its published URL: serve it from disk.
    registry: Registry[Any] = Registry(retrieve=_no_fetching).with_resource(
        project_schema["id"], DRAFT4.create_resource(project_schema)
    )
    return Draft4Validator(package_schema, registry=registry, format_checker=formats)


def errors_of(validator: Draft4Validator, package: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(package)
    ]


def milestone(
    kind: str, title: str, due_on: str | None, done_on: str | None = None
) -> dict[str, Any]:
    return {"kind": kind, "title": title, "due_on": due_on, "done_on": done_on}


def make_project(**overrides: Any) -> dict[str, Any]:
    project: dict[str, Any] = {
        "id": 1,
        "name": "康和新城中学",
        "category": "school",
        "stage": "building",
        "level": "district",
        "sub_district": "幸福街道",
        "lead_department": "区教育和体育局",
        "total_investment_wan": 32000,
        "planned_start": "2023-03-01",
        "planned_completion": "2025-08-31",
        "quantity": 1,
        "quantity_unit": "所",
        "code": "2023-370602-83-01-123456",
        "plan_clause": "50",
        "milestones": [
            milestone("approval", "立项批复", "2023-01-15", "2023-01-10"),
            milestone("start", "开工", "2023-03-01", "2023-03-05"),
            milestone("topping_out", "主体封顶", "2024-05-01"),
            milestone("completion", "完工", "2025-08-31"),
        ],
        "updated_at": "2024-05-20T08:30:00+00:00",
    }
    project.update(overrides)
    return project


def pipeline() -> list[dict[str, Any]]:
    """One project per stage, across categories, with and without optional fields."""
    return [
        make_project(id=1),
        make_project(
            id=2,
            name="中医院幸福新城新院",
            category="hospital",
            stage="reserve",
            total_investment_wan="45000.5",
            milestones=[milestone("approval", "可研批复", "2024-09-30")],
            code=None,
        ),
        make_project(
            id=3,
            name="通利路新建工程",
            category="road",
            stage="starting",
            quantity=2.4,
            quantity_unit="km",
            milestones=[milestone("land", "土地手续", "2024-03-01", "2024-02-20")],
        ),
        make_project(
            id=4,
            name="向阳片区老旧小区改造",
            category="old_community",
            stage="built",
            sub_district="向阳街道",
            updated_at=datetime(2024, 5, 31, 9, 0),
            milestones=[
                milestone("completion", "完工", "2024-04-30", "2024-04-28"),
                milestone("acceptance", "竣工验收", "2024-05-30", "2024-05-20"),
            ],
        ),
        make_project(
            id=5,
            name="夹河东岸口袋公园",
            category="pocket_park",
            stage="cancelled",
            milestones=[],
            lead_department=None,
            sub_district=None,
            level=None,
            total_investment_wan=None,
            planned_start=None,
            planned_completion=None,
            quantity=None,
            plan_clause=None,
        ),
        {"id": 6, "name": "其他项目", "category": "other", "stage": "reserve"},
    ]


def package_of(projects: list[dict[str, Any]]) -> dict[str, Any]:
    return to_oc4ids_package(
        projects,
        published_date=datetime(2024, 6, 1, 12, 0),
        uri="https://plantrack.example.gov.cn/api/v1/oc4ids/2024-06-01.json",
        publisher="烟台市芝罘区发展和改革局",
        today=TODAY,
    )


def test_package_of_every_stage_validates_against_oc4ids_0_9_4(
    validator: Draft4Validator,
) -> None:
    package = package_of(pipeline())
    assert errors_of(validator, package) == []
    assert package["version"] == "0.9"
    assert len({p["id"] for p in package["projects"]}) == 6


def test_the_validator_catches_a_broken_package(validator: Draft4Validator) -> None:
    # Proves the reference to the project schema is followed: the error is inside a project.
    package = package_of([make_project()])
    package["projects"][0]["status"] = "underway"
    package["projects"][0]["milestones"][0]["status"] = "done"
    package["publishedDate"] = "1 June 2024"
    errors = errors_of(validator, package)
    assert any(e.startswith("projects/0/status") for e in errors)
    assert any(e.startswith("projects/0/milestones/0/status") for e in errors)
    assert any(e.startswith("publishedDate") for e in errors)


def test_an_empty_package_is_not_valid_oc4ids(validator: Draft4Validator) -> None:
    assert errors_of(validator, package_of([]))


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        ("reserve", "identification"),
        ("starting", "implementation"),
        ("building", "implementation"),
        ("built", "completion"),
        ("cancelled", "cancelled"),
    ],
)
def test_stage_maps_to_project_status(stage: str, status: str) -> None:
    out = to_oc4ids_project(make_project(stage=stage, milestones=[]), today=TODAY)
    assert out["status"] == status


def test_reserve_project_with_approval_met_is_in_preparation() -> None:
    approved = [milestone("approval", "立项批复", "2024-01-01", "2024-01-02")]
    out = to_oc4ids_project(make_project(stage="reserve", milestones=approved), today=TODAY)
    assert out["status"] == "preparation"


def test_identity_title_and_identifiers() -> None:
    out = to_oc4ids_project(make_project(id=42), today=TODAY)
    assert out["id"] == f"{ID_PREFIX}42" == "oc4ids-plantrack-42"
    assert out["title"] == "康和新城中学"
    assert out["language"] == "zh"
    assert {"id": "42", "scheme": "plantrack"} in out["identifiers"]
    assert {"id": "2023-370602-83-01-123456", "scheme": "tzxm.gov.cn"} in out["identifiers"]


def test_budget_is_wan_times_ten_thousand_in_cny() -> None:
    out = to_oc4ids_project(make_project(total_investment_wan="1234.56"), today=TODAY)
    assert out["budget"]["amount"] == {"amount": 12345600, "currency": "CNY"}
    out = to_oc4ids_project(make_project(total_investment_wan=0.123456), today=TODAY)
    assert out["budget"]["amount"]["amount"] == pytest.approx(1234.56)


def test_sector_and_type_come_from_the_category() -> None:
    road = to_oc4ids_project(make_project(category="road"), today=TODAY)
    assert road["sector"] == ["transport", "transport.road"]
    assert road["type"] == "construction"
    renovation = to_oc4ids_project(make_project(category="old_community"), today=TODAY)
    assert renovation["type"] == "rehabilitation"
    other = to_oc4ids_project(make_project(category="other"), today=TODAY)
    assert "sector" not in other


def test_period_is_the_planned_dates_in_china_time() -> None:
    out = to_oc4ids_project(make_project(), today=TODAY)
    assert out["period"] == {
        "startDate": "2023-03-01T00:00:00+08:00",
        "endDate": "2025-08-31T00:00:00+08:00",
    }


def test_milestones_are_met_not_met_or_scheduled() -> None:
    out = to_oc4ids_project(make_project(), today=TODAY)
    by_title = {m["title"]: m for m in out["milestones"]}
    assert by_title["立项批复"]["status"] == "met"
    assert by_title["立项批复"]["dateMet"] == "2023-01-10T00:00:00+08:00"
    assert by_title["立项批复"]["code"] == "projectApproval"
    assert by_title["主体封顶"]["status"] == "notMet"  # due 2024-05-01, not done by 2024-06-01
    assert by_title["完工"]["status"] == "scheduled"
    assert by_title["完工"]["dueDate"] == "2025-08-31T00:00:00+08:00"
    assert len({m["id"] for m in out["milestones"]}) == 4


def test_location_is_in_zhifu_with_the_sub_district() -> None:
    location = to_oc4ids_project(make_project(), today=TODAY)["locations"][0]
    assert location["description"] == "山东省烟台市芝罘区幸福街道"
    assert location["address"]["locality"] == "烟台市芝罘区"
    assert location["address"]["streetAddress"] == "幸福街道"
    assert location["gazetteer"]["identifiers"] == ["370602"]


def test_lead_department_is_the_public_authority() -> None:
    out = to_oc4ids_project(make_project(), today=TODAY)
    assert out["publicAuthority"]["name"] == "区教育和体育局"
    assert out["parties"][0]["id"] == out["publicAuthority"]["id"]
    assert out["parties"][0]["roles"] == ["publicAuthority"]


def test_built_project_records_its_completion_date() -> None:
    built = pipeline()[3]
    out = to_oc4ids_project(built, today=TODAY)
    assert out["completion"] == {"endDate": "2024-05-20T00:00:00+08:00"}
    assert out["updated"] == "2024-05-31T09:00:00+00:00"


def test_quantity_and_plan_clause_are_published() -> None:
    out = to_oc4ids_project(make_project(quantity=2.5, quantity_unit="km"), today=TODAY)
    observation = out["metrics"][0]["observations"][0]
    assert observation["measure"] == 2.5
    assert observation["unit"] == {"name": "km", "scheme": "UNCEFACT", "id": "KMT"}
    assert "第50条" in out["policyAlignment"]["description"]


def test_research_programmes_results_and_transfers_stay_out_of_oc4ids(
    validator: Draft4Validator,
) -> None:
    """Articles 5–9's outputs are no infrastructure: rows recorded under those categories
    before are left out of the package; the categories are no longer offered."""
    assert not NON_INFRASTRUCTURE & set(PROJECT_CATEGORIES)
    old = [make_project(id=90 + i, category=k) for i, k in enumerate(sorted(NON_INFRASTRUCTURE))]
    package = package_of([*pipeline(), *old])
    assert errors_of(validator, package) == []
    assert len(package["projects"]) == 6
