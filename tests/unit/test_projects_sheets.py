"""The shared helpers the ledgers stand on: spreadsheet reading/writing, history diffs, paging."""

from __future__ import annotations

import io
from datetime import date, datetime

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook

from services.common import spreadsheet
from services.common.errors import install_problem_handlers
from services.common.history import diff, history_row, jsonable
from services.common.paging import Page, Paging
from services.common.spreadsheet import (
    Column,
    ImportRejected,
    choice,
    date_cell,
    date_value,
    integer,
    number,
    read_sheet,
    text,
    write_csv,
    write_xlsx,
)

KINDS = {"school": "学校", "road": "道路"}
COLUMNS = [
    Column("name", "名称", text, required=True),
    Column("kind", "类别", choice(KINDS), lambda v: KINDS[v], True),
    Column("count", "数量", integer),
    Column("amount", "金额（万元）", number),
    Column("on", "日期", date_value, date_cell),
]
ROWS = [
    {"name": "甲", "kind": "school", "count": 3, "amount": 1.25, "on": date(2024, 1, 2)},
    {"name": "乙,带逗号", "kind": "road", "count": None, "amount": 1200.0, "on": None},
]


def xlsx_of(*rows: list[object]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("write", [write_xlsx, write_csv])
def test_written_sheets_read_back_unchanged(write) -> None:  # noqa: ANN001
    name = "ledger.xlsx" if write is write_xlsx else "ledger.csv"
    sheet = read_sheet(write(COLUMNS, ROWS), name, COLUMNS)
    assert sheet.errors == []
    assert sheet.rows == [(2, ROWS[0]), (3, ROWS[1])]


def test_the_openpyxl_reader_reads_the_same_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    content = write_xlsx(COLUMNS, ROWS)
    fast = read_sheet(content, "a.xlsx", COLUMNS)
    monkeypatch.setattr(spreadsheet, "_xlsx_tables", spreadsheet._openpyxl_tables)
    assert read_sheet(content, "a.xlsx", COLUMNS).rows == fast.rows


def test_row_numbers_are_the_sheets_own_and_blank_rows_are_skipped() -> None:
    content = xlsx_of(["名称", "类别"], ["甲", "学校"], [None, None], ["乙", "火箭"])
    sheet = read_sheet(content, "x.xlsx", COLUMNS)
    assert [n for n, _ in sheet.rows] == [2, 4]
    [error] = sheet.errors
    assert error["loc"] == ["rows", 4, "kind"]
    assert error["msg"].en == (
        "sheet 'Sheet' row 4 column '类别' (火箭): '火箭' is not one of: school (学校), road (道路)"
    )
    zh = "工作表「Sheet」第 4 行“类别”列（火箭）：“火箭”不是可选值之一：学校、道路"
    assert error["msg"].zh == zh


def test_excel_date_cells_and_whole_floats_are_understood() -> None:
    content = xlsx_of(["名称", "类别", "数量", "日期"], [123.0, "road", 12.0, datetime(2024, 5, 6)])
    [(_, row)] = read_sheet(content, "x.xlsx", COLUMNS).rows
    assert row["name"] == "123" and row["count"] == 12 and row["on"] == date(2024, 5, 6)


def test_every_bad_cell_is_reported_with_its_row_and_field() -> None:
    csv = "名称,类别,数量,金额（万元）,日期\n,学校,1.5,abc,2024-02-30\n".encode()
    sheet = read_sheet(csv, "x.csv", COLUMNS)
    assert [e["loc"] for e in sheet.errors] == [
        ["rows", 2, "name"],
        ["rows", 2, "count"],
        ["rows", 2, "amount"],
        ["rows", 2, "on"],
    ]
    with pytest.raises(ImportRejected) as caught:
        sheet.raise_if_errors()
    assert caught.value.status == 422 and caught.value.extra == {"rejected_rows": [2]}
    assert "Nothing was imported: 4 problem(s) in 1 row(s) (rows 2)" in caught.value.detail


def test_headers_may_be_field_names_and_a_bom_is_ignored() -> None:
    csv = "\ufeffname,kind,on\n甲,road,2024/03/04\n".encode()
    [(_, row)] = read_sheet(csv, "x.csv", COLUMNS).rows
    assert row == {
        "name": "甲",
        "kind": "road",
        "count": None,
        "amount": None,
        "on": date(2024, 3, 4),
    }


def test_a_missing_or_repeated_column_rejects_the_file() -> None:
    with pytest.raises(ImportRejected) as caught:
        read_sheet("名称,名称\n甲,乙\n".encode(), "x.csv", COLUMNS)
    assert {tuple(e["loc"]) for e in caught.value.errors} == {
        ("columns", "名称"),
        ("columns", "类别"),
    }


def test_unreadable_files_are_rejected_with_a_reason() -> None:
    with pytest.raises(ImportRejected, match="not a readable .xlsx"):
        read_sheet(b"PK\x03\x04broken", "x.xlsx", COLUMNS)
    with pytest.raises(ImportRejected, match="empty"):
        read_sheet(b"", "x.csv", COLUMNS)


def test_a_chinese_file_name_survives_in_content_disposition() -> None:
    header = spreadsheet.content_disposition("台账.xlsx")
    assert header.startswith('attachment; filename="export.xlsx"')
    assert "filename*=UTF-8''%E5%8F%B0%E8%B4%A6.xlsx" in header


def test_diff_names_each_changed_field_before_and_after_as_json() -> None:
    before = {"name": "甲", "on": date(2024, 1, 1), "n": 1}
    after = {"name": "甲", "on": date(2024, 2, 1), "n": 2, "new": "x"}
    assert diff(before, after) == {
        "on": ["2024-01-01", "2024-02-01"],
        "n": [1, 2],
        "new": [None, "x"],
    }
    assert jsonable(datetime(2024, 1, 1, 8)) == "2024-01-01T08:00:00"
    row = history_row(entity="p", entity_id=1, version=2, actor="a", action="u", changes={})
    assert row["at"].tzinfo is not None


async def test_paging_validates_limit_and_offset() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things", response_model=Page[int])
    def things(page: Paging) -> Page[int]:
        items = list(range(1000))[page.offset : page.offset + page.limit]
        return Page(items=items, total=1000)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/things")
        assert len(r.json()["items"]) == 50 and r.json()["total"] == 1000
        r = await c.get("/things", params={"limit": 500, "offset": 990})
        assert r.json()["items"] == list(range(990, 1000))
        for params in ({"limit": 501}, {"limit": 0}, {"offset": -1}):
            r = await c.get("/things", params=params)
            assert r.status_code == 422, params
