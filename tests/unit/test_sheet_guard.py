"""The spreadsheet safety envelope: limits checked before reading, reading contained in a worker."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.errors import DomainError
from services.common.sheet_guard import (
    SheetLimits,
    SheetTooLarge,
    read_rows,
    scan_worksheet,
)
from services.common.spreadsheet import ImportRejected, read_sheet, write_csv, write_xlsx
from services.projects.ledger import COLUMNS
from tests.sheet_files import dense_xlsx, far_cell_xlsx, workbook, xml_bomb_xlsx

LIMITS = SheetLimits()


def refused(content: bytes, name: str = "台账.xlsx", limits: SheetLimits = LIMITS) -> SheetTooLarge:
    with pytest.raises(SheetTooLarge) as caught:
        read_rows(content, name, limits)
    assert caught.value.status == 413
    return caught.value


def test_one_cell_at_xfd1048576_is_refused_before_reading_naming_the_row_limit() -> None:
    content = far_cell_xlsx()
    assert len(content) < 2000
    exc = refused(content)
    assert exc.extra == {"limit": "sheet_max_rows", "limit_value": 200_000}
    assert "1,048,576" in exc.detail and "PLANTRACK_SHEET_MAX_ROWS" in exc.detail


def test_a_far_cell_without_a_dimension_is_found_by_its_reference() -> None:
    exc = refused(far_cell_xlsx(dimension=False), limits=SheetLimits(max_rows=2_000_000))
    assert exc.extra["limit"] == "sheet_max_columns"
    assert "16,384" in exc.detail


def test_a_small_file_holding_hundreds_of_mb_of_xml_is_refused_by_its_uncompressed_size() -> None:
    content = xml_bomb_xlsx(320)
    assert len(content) < 2 * 1024 * 1024
    exc = refused(content)
    assert exc.extra == {"limit": "sheet_max_uncompressed_mb", "limit_value": 200}


def test_a_file_compressed_far_beyond_the_ratio_limit_is_refused() -> None:
    exc = refused(xml_bomb_xlsx(40), limits=SheetLimits(max_uncompressed_mb=1000))
    assert exc.extra["limit"] == "sheet_max_compression_ratio"


def test_the_cell_count_is_bounded_before_reading() -> None:
    exc = refused(dense_xlsx(200, 10), limits=SheetLimits(max_cells=1_500))
    assert exc.extra == {"limit": "sheet_max_cells", "limit_value": 1_500}


def test_a_native_abort_of_the_reader_kills_the_worker_not_this_process() -> None:
    # Limits wide enough to let the far cell through to the reader, which then asks for 512 GB:
    # today that aborts the whole process; here the worker dies and the caller gets a 413.
    wide = SheetLimits(max_rows=10**7, max_columns=10**6, worker_memory_mb=256)
    exc = refused(far_cell_xlsx(), limits=wide)
    assert exc.extra == {"limit": "sheet_worker_memory_mb", "limit_value": 256}
    assert read_rows(dense_xlsx(3, 2), "ok.xlsx") == [[1, 1], [2, 2], [3, 3]]


def test_csv_rows_over_the_limit_are_refused_while_reading() -> None:
    content = ("名称\n" + "x\n" * 30).encode()
    exc = refused(content, "台账.csv", SheetLimits(max_rows=20))
    assert exc.extra["limit"] == "sheet_max_rows"


def test_csv_columns_over_the_limit_are_refused() -> None:
    exc = refused(",".join(["a"] * 80).encode(), "台账.csv")
    assert exc.extra == {"limit": "sheet_max_columns", "limit_value": 60}


def test_an_ordinary_ledger_is_read_through_the_worker() -> None:
    rows = [{"name": f"项目{n}", "category": "school", "quantity": n} for n in range(50)]
    for name, content in (
        ("a.xlsx", write_xlsx(COLUMNS, rows)),
        ("a.csv", write_csv(COLUMNS, rows)),
    ):
        sheet = read_sheet(content, name, COLUMNS)
        assert [values["name"] for _, values in sheet.rows] == [f"项目{n}" for n in range(50)]


def test_the_scanner_sees_references_split_across_chunks() -> None:
    xml = (
        b'<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        b'<row r="7"><c r="BZ7" t="n"><v>2</v></c></row>'
    )
    chunks = [xml[i : i + 5] for i in range(0, len(xml), 5)]
    extent = scan_worksheet(chunks)
    assert (extent.max_row, extent.max_column, extent.cells, extent.rows) == (7, 78, 2, 2)


def test_the_scanner_reads_prefixed_elements_and_lets_empty_cells_not_widen_the_sheet() -> None:
    xml = (
        b'<x:sheetData><x:row r="3" spans="1:2"><x:c r="C3" t="n"><x:v>1</x:v></x:c>'
        b'<x:c r="XFD900000"/></x:row><x:row r="1048576"/><x:c s="1" r="$AB$12"><x:v>2</x:v>'
        b"</x:c></x:sheetData>"
    )
    extent = scan_worksheet([xml[i : i + 7] for i in range(0, len(xml), 7)])
    assert (extent.max_row, extent.max_column, extent.cells, extent.rows) == (12, 28, 3, 2)
    plain = xml.replace(b"x:", b"")
    assert scan_worksheet([plain]) == extent


def test_an_unreadable_workbook_is_a_422_naming_the_file() -> None:
    with pytest.raises(ImportRejected) as caught:
        read_rows(b"PK\x03\x04 not really a zip", "a.xlsx")
    assert caught.value.status == 422 and caught.value.errors[0]["loc"] == ["file"]


def test_formula_like_text_is_exported_as_text_and_read_back_unchanged() -> None:
    names = ["=1+2", "+SUM(A1)", "-A1", "@A1", "\tA1", "\rA1", "plain", "中文=不是公式"]
    rows = [{"name": n, "category": "school", "quantity": -2.0} for n in names]
    csv_text = write_csv(COLUMNS, rows).decode("utf-8-sig")
    for n in names[:6]:
        assert f"'{n}" in csv_text
    assert ",-2," in csv_text  # numbers are numbers, not formulas
    xlsx = write_xlsx(COLUMNS, rows)
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/worksheets/sheet1.xml")
    for name, content in (("a.csv", write_csv(COLUMNS, rows)), ("a.xlsx", xlsx)):
        sheet = read_sheet(content, name, COLUMNS)
        assert [v["name"] for _, v in sheet.rows] == [n.strip() for n in names]


# ---- fuzz: malformed files never crash the reader ----------------------------------------

SMALL = SheetLimits(worker_memory_mb=256, read_timeout_seconds=30)
GOOD_XLSX = write_xlsx(COLUMNS, [{"name": "项目", "category": "school", "quantity": 2}] * 5)
GOOD_CSV = write_csv(COLUMNS, [{"name": "项目", "category": "school", "quantity": 2}] * 5)


def outcome(content: bytes, name: str) -> Any:
    """A success, or a 4xx domain error; anything else (a crash, a 500) fails the test."""
    try:
        return read_sheet(content, name, COLUMNS)
    except DomainError as exc:
        assert 400 <= exc.status < 500, exc
        return exc


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data[:cut] if cut else data)
    for pos, value in edits:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12)
fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(edits=edits, cut=st.none() | st.integers(1, len(GOOD_XLSX)))
def test_fuzz_damaged_xlsx_is_refused_or_read_never_a_crash(
    edits: list[tuple[int, int]], cut: int | None
) -> None:
    outcome(mutate(GOOD_XLSX, edits, cut), "台账.xlsx")


@fuzz
@given(
    sheet=st.lists(
        st.sampled_from(
            [
                '<row r="1"><c r="A1" t="s"><v>9999</v></c></row>',
                '<row r="2"><c r="ZZZ2"><v>1</v></c></row>',
                '<row r="99999999999"><c r="A99999999999"><v>1</v></c></row>',
                '<c r="A3" t="inlineStr"><is><t>x',
                '<row><c><v>1e999</v></c><c t="b"><v>7</v></c></row>',
                '<c r="B4" t="d"><v>not-a-date</v></c>',
                '<dimension ref="A1:XFD1048576"/>',
                "\x00\x01<<<>>>",
                "&bogus;",
            ]
        ),
        max_size=8,
    )
)
def test_fuzz_malformed_sheet_xml_is_refused_or_read_never_a_crash(sheet: list[str]) -> None:
    xml = ['<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
           'spreadsheetml/2006/main"><sheetData>', *sheet, "</sheetData></worksheet>"]  # fmt: skip
    outcome(workbook(xml), "台账.xlsx")


@fuzz
@given(
    edits=edits,
    cut=st.none() | st.integers(1, len(GOOD_CSV)),
    tail=st.binary(max_size=200),
)
def test_fuzz_damaged_csv_is_refused_or_read_never_a_crash(
    edits: list[tuple[int, int]], cut: int | None, tail: bytes
) -> None:
    outcome(mutate(GOOD_CSV, edits, cut) + tail, "台账.csv")


def test_fuzz_cases_include_a_real_zip_damaged_inside() -> None:
    # A valid zip whose sheet entry is not XML: the reader refuses it, the process lives.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\xff\xfe garbage")
    assert isinstance(outcome(buf.getvalue(), "台账.xlsx"), DomainError)
