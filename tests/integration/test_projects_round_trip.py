"""The ledger workbook as a round trip: export, edit in a spreadsheet, import back.

Unchanged rows change nothing, edited rows update their project (stage changes through the
stage machine), stale rows and probable duplicates are refused, a dry run writes nothing, and
the milestones and blockers sheets travel with the ledger.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from openpyxl import load_workbook

from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, create, move, outbox_events

client = kit.client  # the service on SQLite and PostgreSQL, as the project office
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def export(client: Client) -> bytes:
    r = await client.get("/api/v1/projects/export", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    return r.content


async def upload(client: Client, content: bytes, **params: Any) -> Any:
    files = {"file": ("台账.xlsx", content, XLSX)}
    return await client.post("/api/v1/projects/import", files=files, params=params)


def edit(content: bytes, sheet: str, changes: dict[tuple[int, str], Any]) -> bytes:
    """The workbook with cells changed, addressed by (row, header) as a clerk sees them."""
    wb = load_workbook(io.BytesIO(content))
    ws = wb[sheet]
    headers = {c.value: c.column for c in ws[1]}
    for (row, header), value in changes.items():
        ws.cell(row=row, column=headers[header], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def add_row(content: bytes, sheet: str, values: dict[str, Any]) -> bytes:
    wb = load_workbook(io.BytesIO(content))
    ws = wb[sheet]
    headers = [c.value for c in ws[1]]
    ws.append([values.get(h) for h in headers])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def ledger(client: Client) -> list[dict[str, Any]]:
    return (await client.get("/api/v1/projects", params={"limit": 500})).json()["items"]


async def fill(client: Client) -> list[dict[str, Any]]:
    a = await create(client, name="南大街中学改扩建工程", created_on="2023-02-01")
    await move(client, a["id"], "built", "2024-05-01")
    b = await create(
        client, name="黄务河道治理", category="river", quantity=3.5, created_on="2023-03-01"
    )
    await move(client, b["id"], "starting", "2024-04-01")
    c = await create(client, name="幸福口袋公园", category="pocket_park", sub_district="东山街道")
    await move(client, c["id"], "building", "2024-06-01")
    await create(client, name="储备学校", code="2023-370602-47-01-123456")
    return await ledger(client)


async def test_an_export_imported_unchanged_changes_nothing_and_publishes_nothing(
    client: Client,
) -> None:
    projects = await fill(client)
    await client.post(
        f"/api/v1/projects/{projects[1]['id']}/milestones",
        json={"kind": "start", "title": "开工仪式", "due_on": "2024-07-01"},
    )
    events_before = len(outbox_events(client))
    content = await export(client)
    for dry_run in (True, False):
        r = await upload(client, content, dry_run=str(dry_run).lower())
        assert r.status_code == (200 if dry_run else 201), r.text
        body = r.json()
        assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 4)
        assert body["milestones"] == {"created": 0, "updated": 0, "unchanged": 1}
        assert body["errors"] == []
    assert len(outbox_events(client)) == events_before
    assert await ledger(client) == projects


async def test_edited_rows_update_their_projects_and_stages_go_through_the_stage_machine(
    client: Client,
) -> None:
    projects = await fill(client)
    river, park = projects[1], projects[2]
    content = await export(client)
    edited = edit(
        content,
        "重点项目台账",
        {
            (3, "项目名称"): "黄务河道综合治理",  # river: renamed and moved forward
            (3, "当前阶段"): "在建",
            (3, "转入在建日期"): date(2024, 5, 20),
            (4, "计划竣工日期"): date(2025, 12, 31),  # park: a planned date
            (4, "当前阶段"): "储备",  # … and an illegal move back
        },
    )
    r = await upload(client, edited, dry_run="true")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert (plan["created"], plan["updated"], plan["unchanged"]) == (0, 1, 2)
    [error] = plan["errors"]
    assert error["loc"] == ["rows", 4, "stage"]
    assert "moves forward only" in error["msg"] and "row 4" in error["msg"]
    assert await ledger(client) == projects  # a dry run writes nothing

    r = await upload(client, edited)
    assert r.status_code == 422
    assert r.json()["rejected_rows"] == [4] and r.json()["updated"] == 1
    assert await ledger(client) == projects  # all or nothing

    fixed = edit(edited, "重点项目台账", {(4, "当前阶段"): "在建"})
    r = await upload(client, fixed)
    assert r.status_code == 201, r.text
    assert (r.json()["updated"], r.json()["unchanged"]) == (2, 2)
    after = {p["id"]: p for p in await ledger(client)}
    assert after[river["id"]]["name"] == "黄务河道综合治理"
    assert after[river["id"]]["stage"] == "building"
    assert after[river["id"]]["stages"][-1]["on"] == "2024-05-20"
    assert after[park["id"]]["planned_completion"] == "2025-12-31"
    changed = outbox_events(client, "ProjectStageChanged")[-1]
    assert changed.payload["to"] == "building" and changed.payload["project"]["id"] == river["id"]
    history = (await client.get(f"/api/v1/projects/{river['id']}/history")).json()["items"]
    assert [h["action"] for h in history[-2:]] == ["update", "transition"]
    assert history[-2]["changes"]["name"] == ["黄务河道治理", "黄务河道综合治理"]


async def test_a_row_older_than_its_project_is_a_conflict_for_that_row(client: Client) -> None:
    projects = await fill(client)
    content = await export(client)
    pid = projects[0]["id"]
    r = await client.patch(
        f"/api/v1/projects/{pid}",
        json={"lead_department": "区住建局"},
        headers={"If-Match": f'"{projects[0]["version"]}"'},
    )
    assert r.status_code == 200, r.text
    r = await upload(client, edit(content, "重点项目台账", {(2, "项目名称"): "改名"}))
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["loc"] == ["rows", 2, "version"]
    assert "changed after this file was exported" in error["msg"]
    r = await upload(client, content)  # the stale row unchanged but for the department
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 2, "version"]


async def test_a_new_row_matching_a_registered_project_is_a_probable_duplicate(
    client: Client,
) -> None:
    await fill(client)
    content = await export(client)
    content = add_row(
        content,
        "重点项目台账",
        {"项目名称": "幸福口袋公园", "项目类别": "口袋公园", "所在街道": "东山街道"},
    )
    content = add_row(
        content,
        "重点项目台账",
        {"项目名称": "另一所学校", "项目类别": "学校", "项目代码": "2023-370602-47-01-123456"},
    )
    content = add_row(content, "重点项目台账", {"项目名称": "新公园", "项目类别": "口袋公园"})
    r = await upload(client, content, dry_run="true")
    body = r.json()
    assert body["created"] == 1
    locs = {tuple(e["loc"]): e["msg"] for e in body["errors"]}
    assert "probable duplicate" in locs[("rows", 6)] and "project 3" in locs[("rows", 6)]
    assert "probable duplicate" in locs[("rows", 7, "code")]
    r = await upload(client, content)
    assert r.status_code == 422 and r.json()["rejected_rows"] == [6, 7]


async def test_a_dry_run_counts_as_new_or_updated_only_the_rows_it_would_write(
    client: Client,
) -> None:
    """新增, 更新, 不变 and the rows with errors add up to the file's rows: a refused row is
    counted once, as refused, never also as one to write."""
    await fill(client)
    content = await export(client)
    content = edit(content, "重点项目台账", {(3, "总投资（万元）"): -1})  # registered, edited badly
    content = edit(content, "重点项目台账", {(4, "计划竣工日期"): date(2025, 12, 31)})  # fine
    content = add_row(content, "重点项目台账", {"项目名称": "新公园", "项目类别": "口袋公园"})
    content = add_row(content, "重点项目台账", {"项目名称": "坏", "项目类别": "spaceport"})
    content = add_row(
        content, "重点项目台账", {"项目名称": "新学校", "项目类别": "学校", "总投资（万元）": -5}
    )
    r = await upload(client, content, dry_run="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert {tuple(e["loc"][:2]) for e in body["errors"]} == {("rows", 3), ("rows", 7), ("rows", 8)}
    counts = (body["created"], body["updated"], body["unchanged"], body["rejected"])
    assert counts == (1, 1, 2, 3)
    assert body["rows"] == 7 == sum(counts)
    assert body["plan"]["create"] == [6]
    assert [u["row"] for u in body["plan"]["update"]] == [4]


async def test_a_new_row_sharing_a_registered_name_in_another_category_or_street_is_new(
    client: Client,
) -> None:
    """A probable duplicate has the name, the category and the street of a registered project."""
    await fill(client)
    content = await export(client)
    for category, street in (("学校", "东山街道"), ("口袋公园", "只楚街道")):
        row = {"项目名称": "幸福口袋公园", "项目类别": category, "所在街道": street}
        content = add_row(content, "重点项目台账", row)
    r = await upload(client, content)
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["errors"]) == (2, [])


async def test_milestones_and_blockers_round_trip_in_their_own_sheets(client: Client) -> None:
    projects = await fill(client)
    pid = projects[2]["id"]
    m = await client.post(
        f"/api/v1/projects/{pid}/milestones",
        json={"kind": "topping_out", "title": "主体封顶", "due_on": "2024-09-30"},
    )
    assert m.status_code == 201, m.text
    content = await export(client)
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames[:3] == ["重点项目台账", "里程碑", "难点堵点"]
    content = edit(content, "里程碑", {(2, "实际完成日期"): date(2024, 5, 30)})
    content = add_row(
        content,
        "难点堵点",
        {
            "项目系统编号": pid,
            "问题类型": "用地保障",
            "问题描述": "地块未交付",
            "办结时限": date(2024, 8, 1),
        },
    )
    r = await upload(client, content)
    assert r.status_code == 201, r.text
    assert r.json()["milestones"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert r.json()["blockers"] == {"created": 1, "updated": 0, "unchanged": 0}
    detail = (await client.get(f"/api/v1/projects/{pid}")).json()
    assert detail["milestones"][0]["done_on"] == "2024-05-30"
    assert detail["blockers"][0]["kind"] == "land" and detail["blockers"][0]["open"]
    again = await export(client)
    rows = list(load_workbook(io.BytesIO(again))["重点项目台账"].iter_rows(values_only=True))
    header = rows[0]
    park = next(r for r in rows if r[0] == "幸福口袋公园")
    assert park[header.index("未办结难点")] == "用地保障：地块未交付"
    r = await upload(client, again)
    assert (r.json()["updated"], r.json()["unchanged"]) == (0, 4)
    assert r.json()["blockers"] == {"created": 0, "updated": 0, "unchanged": 1}


async def test_the_export_is_a_workbook_a_clerk_can_work_in(client: Client) -> None:
    projects = await fill(client)
    pid = projects[1]["id"]
    r = await client.post(
        f"/api/v1/projects/{pid}/investment", json={"month": "2024-05", "amount_wan": 3000}
    )
    assert r.status_code == 201, r.text
    await client.post(
        f"/api/v1/projects/{pid}/milestones",
        json={"kind": "start", "title": "开工仪式", "due_on": "2024-07-01"},
    )
    wb = load_workbook(io.BytesIO(await export(client)))
    ws = wb["重点项目台账"]
    assert ws.freeze_panes == "B2"
    header = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(header)}
    assert ws.column_dimensions["A"].width >= 30  # names are long
    validations = {
        str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation
    }
    letters = {h: ws.cell(row=1, column=i + 1).column_letter for h, i in col.items()}
    for h in ("项目类别", "当前阶段", "所在街道", "项目层级"):
        assert validations[f"{letters[h]}2"].startswith("'选项'!"), h
    assert wb["选项"].sheet_state == "hidden"
    assert "学校" in [c.value for c in wb["选项"]["A"]]
    river = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "黄务河道治理")
    assert river[col["开工日期"]].date() == date(2024, 4, 1)  # a real date cell
    assert ws.cell(row=3, column=col["开工日期"] + 1).number_format == "yyyy-mm-dd"
    assert river[col["累计完成投资（万元）"]] == 3000
    assert river[col["投资完成率"]] == 25.0  # per cent of the 12,000 万元 total
    assert river[col["下一里程碑"]] == "开工仪式 2024-07-01"
    assert (river[col["系统编号"]], river[col["版本"]]) == (pid, projects[1]["version"])
