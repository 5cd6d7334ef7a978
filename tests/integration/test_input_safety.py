"""Text input is refused with control characters; exports never carry a formula or break."""

from __future__ import annotations

import io
import zipfile
from csv import reader
from io import StringIO

from openpyxl import load_workbook
from sqlalchemy import update

from services.projects.models import Project
from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client, create, problem_locs

client = kit.client
FORMULAS = ['=HYPERLINK("http://x","点击")', "+1+2", "-3+4", "@SUM(A1)", "=1+2"]


async def total(client: Client) -> int:
    return (await client.get("/api/v1/projects")).json()["total"]


async def test_a_name_of_blanks_is_a_422_and_nothing_is_written(client: Client) -> None:
    r = await client.post("/api/v1/projects", json=kit.project_body(name="   "))
    assert r.status_code == 422, r.text
    assert problem_locs(r) == [["name"]]
    assert await total(client) == 0


async def test_control_characters_are_refused_naming_the_field(client: Client) -> None:
    r = await client.post("/api/v1/projects", json=kit.project_body(lead_department="区\x01教体局"))
    assert r.status_code == 422, r.text
    assert problem_locs(r) == [["lead_department"]]
    assert "U+0001" in r.json()["errors"][0]["msg"]
    r = await client.post("/api/v1/projects", json=kit.project_body(name="一\n二"))
    assert r.status_code == 422 and problem_locs(r) == [["name"]]
    assert await total(client) == 0


async def test_free_text_notes_keep_tabs_and_line_breaks_but_not_other_controls(
    client: Client,
) -> None:
    project = await create(client)
    url = f"/api/v1/projects/{project['id']}/blockers"
    body = {"description": "征地未完成\n\t待区里协调", "responsible_department": "区自然资源局"}
    r = await client.post(url, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "征地未完成\n\t待区里协调"
    r = await client.post(url, json=body | {"description": "响铃\x07"})
    assert r.status_code == 422 and problem_locs(r) == [["description"]]


async def test_exports_write_formula_like_text_as_text(client: Client) -> None:
    for name in FORMULAS:
        await create(client, name=name.strip())
    names = [n.strip() for n in FORMULAS]
    xlsx = (await client.get("/api/v1/projects/export", params={"format": "xlsx"})).content
    sheet = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet
    got = [r[0] for r in load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True)][1:]
    assert sorted(got) == sorted(names)
    csv = (await client.get("/api/v1/projects/export", params={"format": "csv"})).content
    first_cells = [row[0] for row in list(reader(StringIO(csv.decode("utf-8-sig"))))[1:]]
    assert sorted(first_cells) == sorted("'" + n for n in names)


async def test_a_control_character_already_stored_does_not_break_the_export(
    client: Client,
) -> None:
    project = await create(client, name="旧数据")
    with client.app.state.runtime.engine.begin() as conn:
        conn.execute(update(Project).where(Project.id == project["id"]).values(name="旧\x01数据"))
    r = await client.get("/api/v1/projects/export", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == "旧\ufffd数据"
