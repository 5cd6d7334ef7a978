"""Ledger import/export (xlsx, csv) all-or-nothing with per-row errors, and the OC4IDS export."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from typing import Any

from jsonschema import Draft4Validator
from openpyxl import load_workbook

from services.common.settings import Settings
from services.common.spreadsheet import write_csv, write_xlsx
from services.projects.app import create_app
from services.projects.ledger import COLUMNS
from tests.conftest import auth, running_app
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import (
    TODAY,
    Client,
    create,
    job_outcome,
    move,
    outbox_count,
    outbox_events,
)
from tests.unit import test_oc4ids
from tests.unit.test_oc4ids import errors_of

client = kit.client  # the service on SQLite and PostgreSQL, as the project office
validator = test_oc4ids.validator  # the schema validator fixture, shared
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def export(client: Any, fmt: str, **params: Any) -> bytes:
    r = await client.get("/api/v1/projects/export", params={"format": fmt, **params})
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    return r.content


async def upload(client: Any, content: bytes, name: str) -> Any:
    kind = XLSX if name.endswith("xlsx") else "text/csv"
    return await client.post("/api/v1/projects/import", files={"file": (name, content, kind)})


def cells(xlsx: bytes) -> list[tuple[Any, ...]]:
    ws = load_workbook(io.BytesIO(xlsx), read_only=True).worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def without_keys(csv: bytes) -> list[list[str]]:
    """The CSV's rows without the id and version columns (the last two)."""
    lines = csv.decode("utf-8-sig").splitlines()
    return [line.rsplit(",", 2)[0].split(",") for line in lines]


async def fill_ledger(client: Client) -> None:
    """Projects of every stage, with codes, fractions, Chinese text and blank cells."""
    a = await create(client, code="2023-370602-47-01-123456", created_on="2023-02-01")
    await move(client, a["id"], "starting", "2023-04-01")
    await move(client, a["id"], "building", "2023-05-01")
    b = await create(
        client, name="黄务河道治理", category="river", quantity=3.5, quantity_unit="km",
        total_investment_wan=2345.67, level="city", created_on="2023-03-01",
    )  # fmt: skip
    await move(client, b["id"], "built", "2024-05-01")
    c = await create(client, name='口袋公园,逗号"引号', category="pocket_park", level=None)
    await move(client, c["id"], "cancelled", "2024-06-01")
    await create(client, name="储备项目", category="elderly_care", planned_start=None)


async def test_export_then_import_round_trips_unchanged(
    client: Client,
    settings_factory: Callable[..., Settings],
    database_url_factory: Callable[[str], str],
    tokens: dict[str, str],
) -> None:
    await fill_ledger(client)
    xlsx, csv = await export(client, "xlsx"), await export(client, "csv")
    assert csv.startswith("\ufeff项目名称,项目类别,项目代码".encode())
    assert cells(xlsx)[0][:3] == ("项目名称", "项目类别", "项目代码")
    for name, content in (("台账.xlsx", xlsx), ("台账.csv", csv)):
        settings = settings_factory(projects_database_url=database_url_factory(name), today=TODAY)
        async with running_app(create_app(settings)) as other:
            other.headers.update(auth(tokens["project_office"]))
            r = await upload(other, content, name)
            assert r.status_code == 201, r.text
            assert r.json()["imported"] == 4
            # the same ledger, but its own ids and versions (the last two columns)
            assert without_keys(await export(other, "csv")) == without_keys(csv)
            assert [r[:-2] for r in cells(await export(other, "xlsx"))] == [
                r[:-2] for r in cells(xlsx)
            ]
            items = (await other.get("/api/v1/projects", params={"stage": "building"})).json()
            assert [s["stage"] for s in items["items"][0]["stages"]] == [
                "reserve",
                "starting",
                "building",
            ]


async def test_an_export_takes_the_list_filters(client: Client) -> None:
    await fill_ledger(client)
    rows = cells(await export(client, "xlsx", category="river"))
    assert [r[0] for r in rows[1:]] == ["黄务河道治理"]
    assert rows[1][1] == "河道治理" and rows[1][13] == "建成"


def ledger_csv(*rows: dict[str, Any]) -> bytes:
    base = {"name": "项目", "category": "school", "created_on": None}
    return write_csv(COLUMNS, [{**base, **r} for r in rows])


async def test_one_bad_row_imports_nothing_and_names_that_row(client: Client) -> None:
    content = ledger_csv({"name": "好"}, {"name": "坏", "category": "spaceport"}, {"name": "好2"})
    r = await upload(client, content, "ledger.csv")
    assert r.status_code == 422
    body = r.json()
    assert body["rejected_rows"] == [3]
    assert body["errors"][0]["loc"] == ["rows", 3, "category"]
    assert "spaceport" in body["errors"][0]["msg"] and "school (学校)" in body["errors"][0]["msg"]
    assert "Nothing was imported" in body["detail"] and "rows 3" in body["detail"]
    assert (await client.get("/api/v1/projects")).json()["total"] == 0
    assert outbox_events(client) == []


async def test_import_reports_every_bad_row_and_column(client: Client) -> None:
    await create(client, code="2023-370602-47-01-123456")
    content = ledger_csv(
        {"name": "ok"},
        {"code": "2023-370602-47-01-123456"},  # row 3: already registered
        {"code": "2023-370602-47-01-654321"},  # row 4
        {"code": "2023-370602-47-01-654321", "total_investment_wan": -1},  # row 5
        {"name": None, "planned_start": "2024-05-01", "planned_completion": "2024-01-01"},
        {"starting_on": "2024-03-01", "building_on": "2024-02-01"},  # row 7: out of order
        {"built_on": "2024-07-01", "stage": "reserve"},  # row 8: future, and wrong stage
    )
    r = await upload(client, content, "ledger.csv")
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert locs == {
        ("rows", 3, "code"),
        ("rows", 5, "code"),
        ("rows", 5, "total_investment_wan"),
        ("rows", 6, "name"),
        ("rows", 6, "planned_completion"),
        ("rows", 7, "building_on"),
        ("rows", 8, "built_on"),
        ("rows", 8, "stage"),
    }
    by_loc = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert "also on row 4" in by_loc[("rows", 5, "code")]
    assert "already project 1" in by_loc[("rows", 3, "code")]
    assert r.json()["rejected_rows"] == [3, 5, 6, 7, 8]
    assert (await client.get("/api/v1/projects")).json()["total"] == 1


async def test_unreadable_files_and_missing_columns_are_422(client: Client) -> None:
    r = await upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old.xls")
    assert r.status_code == 422 and ".xlsx or .csv" in r.json()["detail"]
    r = await upload(client, "名称\n甲\n".encode("gb18030"), "gbk.csv")
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    r = await upload(client, "项目名称,备注\n甲,x\n".encode(), "no-category.csv")
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"loc": ["columns", "项目类别"], "msg": "the column '项目类别' is missing"}
    ]


async def test_csv_without_bom_and_labels_or_keys_both_import(client: Client) -> None:
    content = (
        '项目名称,项目类别,项目层级,总投资（万元）\n甲,学校,区级,"1,200"\n乙,hospital,city,0\n'
    )
    r = await upload(client, content.encode(), "plain.csv")
    assert r.status_code == 201, r.text
    items = (await client.get("/api/v1/projects")).json()["items"]
    assert [(p["category"], p["level"], p["total_investment_wan"]) for p in items] == [
        ("school", "district", 1200.0),
        ("hospital", "city", 0.0),
    ]
    assert items[0]["created_on"] == TODAY and items[0]["stage"] == "reserve"
    first = outbox_events(client, "ProjectRegistered")[0]
    assert first.on.isoformat() == TODAY
    assert first.payload["project"]["stages"] == [{"stage": "reserve", "on": TODAY, "ordinal": 0}]
    [entry] = (await client.get(f"/api/v1/projects/{items[0]['id']}/history")).json()["items"]
    assert entry["action"] == "import" and entry["actor"] == "project_office-tester"
    assert entry["changes"]["total_investment_wan"] == [None, 1200.0]


async def test_import_of_ten_thousand_rows_from_xlsx(client: Client) -> None:
    start, dec1 = date(2024, 1, 1), date(2023, 12, 1)
    rows = [
        {
            "name": f"项目{i}", "category": "school" if i % 2 else "road",
            "code": f"2023-370602-47-01-{i:06d}", "total_investment_wan": i * 1.5,
            "planned_start": start, "created_on": dec1, "reserve_on": dec1,
            "starting_on": date(2024, 1, 5) if i % 3 == 0 else None,
        }
        for i in range(10_000)
    ]  # fmt: skip
    r = await upload(client, write_xlsx(COLUMNS, rows), "big.xlsx")
    job = await job_outcome(client, r)  # a file this long runs on as a job
    assert job["result_status"] == 201, job
    assert job["result"]["imported"] == 10_000
    listing = (await client.get("/api/v1/projects", params={"stage": "starting"})).json()
    assert listing["total"] == 3334
    assert outbox_count(client, "ProjectRegistered") == 10_000


async def test_oc4ids_export_validates_against_the_0_9_4_schema(
    client: Client,
    validator: Draft4Validator,
) -> None:
    await fill_ledger(client)
    late = (await client.get("/api/v1/projects", params={"stage": "building"})).json()["items"][0]
    await client.post(
        f"/api/v1/projects/{late['id']}/milestones",
        json={"kind": "topping_out", "title": "主体封顶", "due_on": "2024-05-01"},
    )
    r = await client.get("/api/v1/projects/export", params={"format": "oc4ids"})
    assert r.status_code == 200, r.text
    package = r.json()
    assert errors_of(validator, package) == []
    statuses = sorted(p["status"] for p in package["projects"])
    assert statuses == ["cancelled", "completion", "identification", "implementation"]
    building = next(p for p in package["projects"] if p["status"] == "implementation")
    assert building["milestones"][0]["status"] == "notMet"


async def test_oc4ids_export_of_nothing_is_404_and_unknown_formats_are_422(client: Client) -> None:
    r = await client.get("/api/v1/projects/export", params={"format": "oc4ids"})
    assert r.status_code == 404 and "at least one project" in r.json()["detail"]
    r = await client.get("/api/v1/projects/export", params={"format": "pdf"})
    assert r.status_code == 422
