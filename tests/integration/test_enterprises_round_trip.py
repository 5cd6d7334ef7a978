"""The enterprise ledger as a round trip: an export imported back unchanged changes nothing and
publishes nothing; an edited row updates its enterprise; a row from an older version is refused
as a conflict; a dry run answers the plan and writes nothing."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import update

from services.common.contracts.designations import DESIGNATION_LABELS
from services.enterprises.models import Designation
from tests.integration.enterprises_kit import Service, enterprise
from tests.integration.test_enterprises_import import outbox_types, svc, upload, writer

__all__ = ["svc", "writer"]  # the fixtures, shared


def edit(content: bytes, changes: dict[tuple[int, str], Any]) -> bytes:
    wb = load_workbook(io.BytesIO(content))
    ws = wb.worksheets[0]
    headers = {c.value: c.column for c in ws[1]}
    for (row, header), value in changes.items():
        ws.cell(row=row, column=headers[header], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def fill(svc: Service, writer: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for n in (1, 2, 3):
        r = await svc.client.post("/api/v1/enterprises", json=enterprise(n), headers=writer)
        assert r.status_code == 201, r.text
        out.append(r.json())
    r = await svc.client.post(
        f"/api/v1/enterprises/{out[0]['id']}/designations",
        json={"type": "high_tech", "granted_on": "2024-01-10", "certificate_no": "GR2024001"},
        headers=writer,
    )
    assert r.status_code == 201, r.text
    return out


async def export(svc: Service, writer: dict[str, str]) -> bytes:
    r = await svc.client.get(
        "/api/v1/enterprises/export", params={"format": "xlsx"}, headers=writer
    )
    assert r.status_code == 200, r.text
    return r.content


async def test_an_export_imported_unchanged_changes_nothing(
    svc: Service, writer: dict[str, str]
) -> None:
    await fill(svc, writer)
    before = outbox_types(svc)
    content = await export(svc, writer)
    header = [c.value for c in load_workbook(io.BytesIO(content)).worksheets[0][1]]
    assert header[-2:] == ["企业编号", "版本"]
    r = await upload(svc, writer, content, "企业台账.xlsx")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["enterprises_created"], body["enterprises_updated"]) == (0, 0)
    assert (body["enterprises_unchanged"], body["designations_unchanged"]) == (3, 1)
    assert body["designations_granted"] == 0 and body["errors"] == []
    assert outbox_types(svc) == before  # nothing written, nothing to publish


async def test_an_edited_row_updates_and_a_dry_run_writes_nothing(
    svc: Service, writer: dict[str, str]
) -> None:
    firms = await fill(svc, writer)
    content = edit(await export(svc, writer), {(3, "企业名称"): "烟台更名科技有限公司"})
    r = await svc.client.post(
        "/api/v1/enterprises/import",
        params={"dry_run": "true"},
        files={"file": ("a.xlsx", content, "application/octet-stream")},
        headers=writer,
    )
    assert r.status_code == 200 and r.json()["dry_run"] is True
    assert r.json()["enterprises_updated"] == 1
    second = f"/api/v1/enterprises/{firms[1]['id']}"
    assert (await svc.client.get(second, headers=writer)).json()["version"] == 1
    r = await upload(svc, writer, content, "a.xlsx")
    assert r.status_code == 200 and r.json()["enterprises_updated"] == 1
    after = (await svc.client.get(second, headers=writer)).json()
    assert after["name"] == "烟台更名科技有限公司" and after["version"] == 2


async def test_a_row_older_than_its_enterprise_is_a_conflict(
    svc: Service, writer: dict[str, str]
) -> None:
    firms = await fill(svc, writer)
    content = await export(svc, writer)
    url = f"/api/v1/enterprises/{firms[2]['id']}"
    r = await svc.client.patch(
        url, json={"industry_chain": "新材料"}, headers={**writer, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    stale = edit(content, {(4, "企业名称"): "旧文件里的新名称"})
    r = await upload(svc, writer, stale, "a.xlsx")
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["loc"] == ["rows", 4, "version"]
    assert "changed after this file was exported" in error["msg"]
    assert (await svc.client.get(url, headers=writer)).json()["name"] == firms[2]["name"]
    # the old file as it was would undo the change made since: refused the same way
    r = await upload(svc, writer, content, "a.xlsx")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 4, "version"]
    fresh = edit(await export(svc, writer), {(4, "企业名称"): "新文件里的新名称"})
    r = await upload(svc, writer, fresh, "a.xlsx")
    assert r.status_code == 200 and r.json()["enterprises_updated"] == 1
    assert (await svc.client.get(url, headers=writer)).json()["industry_chain"] == "新材料"


async def test_an_item_stored_without_its_name_re_imports_unchanged_but_a_new_one_is_refused(
    svc: Service, writer: dict[str, str]
) -> None:
    """Labs, first stores… stored before the import asked for 名称 come back in the export with
    名称 blank: the office's own file is accepted as it is, counting nothing twice, while a new
    lab without its 名称 is still refused, naming the column."""
    firms = await fill(svc, writer)
    r = await svc.client.post(
        f"/api/v1/enterprises/{firms[1]['id']}/designations",
        json={"type": "key_laboratory", "level": "provincial", "granted_on": "2024-03-01",
              "item_name": "海洋新材料实验室"},
        headers=writer,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    with svc.engine.begin() as conn:  # as it was stored before 名称 was required
        conn.execute(
            update(Designation.__table__)
            .where(Designation.__table__.c.id == r.json()["id"])
            .values(item_name=None)
        )
    content = await export(svc, writer)
    before = outbox_types(svc)
    r = await upload(svc, writer, content, "企业台账.xlsx")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == [] and body["designations_unchanged"] == 2
    assert (body["designations_granted"], body["enterprises_updated"]) == (0, 0)
    assert outbox_types(svc) == before  # nothing written, nothing counted again

    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    new_row = sheet.max_row + 1
    third = {
        "统一社会信用代码": firms[2]["uscc"],
        "认定类型": DESIGNATION_LABELS["key_laboratory"],
        "认定级别": "省级",
        "认定日期": "2024-05-01",
    }
    r = await upload(
        svc, writer, edit(content, {(new_row, k): v for k, v in third.items()}), "企业台账.xlsx"
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["loc"] == ["rows", new_row, "item_name"]
    assert "名称" in error["msg"]
    assert outbox_types(svc) == before
