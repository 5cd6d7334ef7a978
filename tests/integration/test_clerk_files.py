"""Ledgers as clerks make them, made by LibreOffice in the test, import as a clerk expects.

The files are written as flat OpenDocument spreadsheets (.fods: title rows merged across the
sheet, a sub-district merged down two rows, every date form a clerk types, full-width digits,
trailing spaces, a 合计 row and a 填表说明 row) and turned into .xlsx by `soffice --headless
--convert-to xlsx`, so the reader meets LibreOffice's own xlsx. Each bad file gets the Chinese
message that names its sheet, row, column and value.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tests.integration import projects_kit as kit
from tests.integration.projects_kit import Client

client = kit.client  # the projects service on SQLite and PostgreSQL
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = [
    "项目名称",
    "项目类别",
    "所在街道",
    "对应条款",
    "总投资（万元）",
    "计划开工日期",
    "计划竣工日期",
]
WIDTH = len(HEADER)

Cell = (
    str | float | tuple[str, Any] | None
)  # ("date", "2024-03-05"), ("span", text), ("down", text)


def _cell(value: Cell) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, tuple):
        kind, raw = value
        if kind == "date":
            return (
                f'<table:table-cell table:style-name="day" office:value-type="date" '
                f'office:date-value="{raw}"><text:p>{raw}</text:p></table:table-cell>'
            )
        if kind == "span":  # a title merged across the whole sheet
            return (
                f'<table:table-cell table:number-columns-spanned="{WIDTH}" office:value-type='
                f'"string"><text:p>{escape(raw)}</text:p></table:table-cell>'
                f'<table:covered-table-cell table:number-columns-repeated="{WIDTH - 1}"/>'
            )
        if kind == "down":  # merged with the cell below
            return (
                f'<table:table-cell table:number-rows-spanned="2" office:value-type="string">'
                f"<text:p>{escape(raw)}</text:p></table:table-cell>"
            )
        if kind == "covered":
            return "<table:covered-table-cell/>"
    if isinstance(value, float | int):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return (
        f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p>'
        "</table:table-cell>"
    )


def fods(rows: list[list[Cell]], sheet: str = "重点项目台账") -> str:
    body = "".join(
        f"<table:table-row>{''.join(_cell(c) for c in r)}</table:table-row>" for r in rows
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:automatic-styles>
 <number:date-style style:name="ymd"><number:year number:style="long"/><number:text>-</number:text>
 <number:month number:style="long"/><number:text>-</number:text><number:day number:style="long"/>
 </number:date-style>
 <style:style style:name="day" style:family="table-cell" style:data-style-name="ymd"/>
</office:automatic-styles>
<office:body><office:spreadsheet><table:table table:name="{escape(sheet)}">{body}</table:table>
</office:spreadsheet></office:body></office:document>"""


def title_rows() -> list[list[Cell]]:
    return [
        [("span", "芝罘区2024年重点项目台账")],
        ["填报单位：区发展和改革局", None, None, None, None, "单位：万元"],
    ]


GOOD: list[list[Cell]] = [
    *title_rows(),
    HEADER,
    [
        "南大街中学改扩建工程  ",
        "学校",
        ("down", "向阳街道"),
        "５０",
        "１２，０００",
        "2024.3.5",
        "2024年12月31日",
    ],
    ["黄务口袋公园", "口袋公园", ("covered", None), "51", 800, "2024/3/5", ("date", "2025-06-30")],
    ["世回尧河道治理", "河道治理", "世回尧街道", "40", 3200.5, "２０２４－０３－０５", 45473],
    ["合计", None, None, None, 16000.5],
    ["填表说明：日期可写作 2024.3.5、2024/3/5 或 2024年3月5日"],
]
BAD_FILES: dict[str, tuple[list[list[Cell]], str]] = {
    "bad-date": (
        [*title_rows(), HEADER, ["甲学校", "学校", "向阳街道", "50", 100, "2024.13.5", None]],
        "工作表「重点项目台账」第 4 行“计划开工日期”列（2024.13.5）：“2024.13.5”不是日期",
    ),
    "unknown-category": (
        [*title_rows(), HEADER, ["乙项目", "太空港", None, None, None, None, None]],
        "工作表「重点项目台账」第 4 行“项目类别”列（太空港）：“太空港”不是可选值之一：学校、",
    ),
    "no-category-column": (
        [*title_rows(), ["项目名称", "所在街道"], ["丙项目", "向阳街道"]],
        "缺少“项目类别”列",
    ),
    "no-header": (
        [[("span", "芝罘区2024年重点项目台账")], ["丙项目", "向阳街道"]],
        "工作表「重点项目台账」中找不到表头行",
    ),
    "total-without-name": (
        [*title_rows(), HEADER, ["丁项目", "学校"], [None, "学校", None, None, 5]],
        "工作表「重点项目台账」第 5 行：“项目名称”不能为空",
    ),
}


@pytest.fixture(scope="module")
def clerk_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every file of the corpus, written as .fods and converted to .xlsx by LibreOffice."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice (libreoffice-calc-nogui) is needed to make the clerk files"
    work = tmp_path_factory.mktemp("clerk")
    sources = {"good": GOOD, **{name: rows for name, (rows, _) in BAD_FILES.items()}}
    for name, rows in sources.items():
        (work / f"{name}.fods").write_text(fods(rows), encoding="utf-8")
    profile = (work / "profile").as_uri()
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
         "--outdir", str(work / "xlsx"), *sorted(str(p) for p in work.glob("*.fods"))],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    return {name: (work / "xlsx" / f"{name}.xlsx").read_bytes() for name in sources}


async def upload(client: Client, content: bytes, **headers: str) -> Any:
    files = {"file": ("台账.xlsx", content, XLSX)}
    return await client.post("/api/v1/projects/import", files=files, headers=headers)


async def test_a_clerks_ledger_from_libreoffice_imports_as_expected(
    client: Client, clerk_files: dict[str, bytes]
) -> None:
    r = await upload(client, clerk_files["good"], **{"Accept-Language": "zh"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] == 3
    assert [s["row"] for s in body["skipped_rows"]] == [7, 8]
    assert body["skipped_rows"][0]["msg"] == "工作表「重点项目台账」第 7 行是合计行（合计），已跳过"
    items = (await client.get("/api/v1/projects")).json()["items"]
    got = [
        (p["name"], p["category"], p["sub_district"], p["plan_clause"], p["total_investment_wan"],
         p["planned_start"], p["planned_completion"])
        for p in items
    ]  # fmt: skip
    assert got == [
        ("南大街中学改扩建工程", "school", "向阳街道", "50", 12000.0, "2024-03-05", "2024-12-31"),
        ("黄务口袋公园", "pocket_park", "向阳街道", "51", 800.0, "2024-03-05", "2025-06-30"),
        ("世回尧河道治理", "river", "世回尧街道", "40", 3200.5, "2024-03-05", "2024-06-30"),
    ]


@pytest.mark.parametrize("name", list(BAD_FILES))
async def test_each_bad_clerk_file_gets_its_chinese_message(
    client: Client, clerk_files: dict[str, bytes], name: str
) -> None:
    r = await upload(client, clerk_files[name], **{"Accept-Language": "zh-CN"})
    assert r.status_code == 422, r.text
    body = r.json()
    messages = [e["msg"] for e in body["errors"]] + [body["detail"]]
    expected = BAD_FILES[name][1]
    assert any(expected in m for m in messages), messages
    assert body["title"] == "输入有误"
    assert (await client.get("/api/v1/projects")).json()["total"] == 0


def test_the_corpus_is_real_libreoffice_xlsx(clerk_files: dict[str, bytes]) -> None:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(clerk_files["good"])) as z:
        assert "LibreOffice" in z.read("docProps/app.xml").decode()
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<mergeCell " in sheet  # the title and the sub-district are merged cells
