"""Spreadsheet import and export (.xlsx and .csv) keyed by Chinese column headers.

A service describes its sheet once as a list of columns, `(field, 中文表头, parser)` with an
optional `format` for export and a `required` flag:

    COLUMNS = [
        Column("name", "项目名称", text, required=True),
        Column("planned_start", "计划开工", date_value, format=date_cell),
    ]
    sheet = read_sheet(content, filename, COLUMNS)   # every row parsed, every error collected
    ...more checks, adding to sheet.errors with sheet.error(row, field, msg)...
    sheet.raise_if_errors()                          # ImportRejected: all-or-nothing
    data = write_xlsx(COLUMNS, rows)                 # or write_csv

Row numbers are the spreadsheet's own (the header is row 1, the first data row is row 2), so a
clerk can go straight to the cell. Parsers take the raw cell value (never None or blank: empty
cells become None without calling them) and raise ValueError with a reason a clerk can act on.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from services.common.errors import Invalid
from services.common.sheet_guard import csv_cell, drain, read_rows, xlsx_cell
from services.common.text import refuse_controls

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

Parser = Callable[[Any], Any]
Formatter = Callable[[Any], Any]


class Column(NamedTuple):
    """One column of a sheet: model field, Chinese header, parser (cell → value), export format."""

    field: str
    header: str
    parse: Parser
    format: Formatter | None = None
    required: bool = False


class ImportRejected(Invalid):
    """The file has errors; nothing was imported. `errors` lists every bad row and column."""

    title = "Import rejected"

    def __init__(self, errors: list[dict[str, Any]], *, detail: str | None = None) -> None:
        rows = sorted({e["loc"][1] for e in errors if len(e["loc"]) > 1 and e["loc"][0] == "rows"})
        detail = detail or (
            f"Nothing was imported: {len(errors)} problem(s) in {len(rows)} row(s)"
            + (f" (rows {_row_list(rows)})" if rows else "")
            + ". Correct them and upload the whole file again."
        )
        super().__init__(detail, errors=errors, extra={"rejected_rows": rows})


def _row_list(rows: list[int], shown: int = 20) -> str:
    head = ", ".join(str(r) for r in rows[:shown])
    return head + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


@dataclass
class Sheet:
    """The parsed rows of an upload (`(row_number, {field: value})`) and every error found."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, row: int, field_name: str, msg: str) -> None:
        """Record a problem with one cell (`loc` = ["rows", row, field])."""
        self.errors.append({"loc": ["rows", row, field_name], "msg": msg})

    def raise_if_errors(self) -> None:
        if self.errors:
            self.errors.sort(key=lambda e: (e["loc"][0] != "rows", e["loc"][1:2]))
            raise ImportRejected(self.errors)


# ---- parsers (cell → value; ValueError says why) -------------------------------------------


def text(value: Any) -> str:
    """Text as given; whole numbers typed into a text column lose Excel's trailing ".0"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return refuse_controls(str(value).strip())


def integer(value: Any) -> int:
    """A whole number (Excel's 12.0 counts as 12)."""
    if isinstance(value, bool):
        raise ValueError("not a whole number")
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        raise ValueError(f"'{value}' is not a whole number") from None
    if not number.is_integer():
        raise ValueError(f"'{value}' is not a whole number")
    return int(number)


def number(value: Any) -> float:
    """A decimal number; thousands separators are accepted."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        raise ValueError(f"'{value}' is not a number") from None


def date_value(value: Any) -> date:
    """A date: an Excel date cell, or text YYYY-MM-DD (also YYYY/MM/DD)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = str(value).strip().replace("/", "-")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def choice(allowed: Mapping[str, str]) -> Parser:
    """A code out of `allowed` ({code: 中文标签}); the cell may hold the code or the label."""
    by_label = {label: code for code, label in allowed.items()}

    def parse(value: Any) -> str:
        raw = text(value)
        if raw in allowed:
            return raw
        if raw in by_label:
            return by_label[raw]
        options = ", ".join(f"{c} ({lbl})" for c, lbl in allowed.items())
        raise ValueError(f"'{raw}' is not one of: {options}")

    return parse


def date_cell(value: Any) -> str | None:
    """Export format for dates: YYYY-MM-DD text, which Excel keeps exactly and reads back."""
    return value.isoformat()[:10] if isinstance(value, date) else value


# ---- reading ----------------------------------------------------------------------------


def read_sheet(content: bytes, filename: str, columns: Sequence[Column]) -> Sheet:
    """Parse an uploaded .xlsx or .csv into rows keyed by field, collecting every error.

    Headers may be the Chinese header or the field name; unknown columns are ignored, a missing
    required column or an unreadable file raises ImportRejected at once.
    """
    table = drain(read_rows(content, filename))  # bounded, and read in a worker process
    try:
        header = next(table, None)
        if header is None:
            raise ImportRejected(
                [{"loc": ["file"], "msg": "the file is empty"}], detail="The file is empty."
            )
        return _parse_rows(table, _match_headers(header, columns), columns)
    except csv.Error as exc:  # e.g. a NUL byte or a broken quote in a CSV
        raise _unreadable(f"the CSV cannot be parsed ({exc})") from exc


def _parse_rows(
    table: Iterator[Sequence[Any]], positions: dict[str, int], columns: Sequence[Column]
) -> Sheet:
    sheet = Sheet()
    for row_no, raw in enumerate(table, start=2):
        cells = [_blank_to_none(c) for c in raw]
        if all(c is None for c in cells):
            continue
        values: dict[str, Any] = {}
        for col in columns:
            idx = positions.get(col.field)
            cell = cells[idx] if idx is not None and idx < len(cells) else None
            if cell is None:
                if col.required:
                    sheet.error(row_no, col.field, f"{col.header} is required")
                values[col.field] = None
                continue
            try:
                values[col.field] = col.parse(cell)
            except ValueError as exc:
                sheet.error(row_no, col.field, f"{col.header}: {exc}")
        sheet.rows.append((row_no, values))
    return sheet


def _blank_to_none(cell: Any) -> Any:
    if cell is None:
        return None
    if isinstance(cell, str):
        cell = cell.strip()
        return cell or None
    return cell


def _match_headers(header: Sequence[Any], columns: Sequence[Column]) -> dict[str, int]:
    names = [str(h).strip().lstrip("\ufeff") if h is not None else "" for h in header]
    lookup = {}
    for col in columns:
        lookup[col.header] = col.field
        lookup[col.field] = col.field
    positions: dict[str, int] = {}
    errors = []
    for idx, name in enumerate(names):
        fld = lookup.get(name)
        if fld is None:
            continue
        if fld in positions:
            errors.append({"loc": ["columns", name], "msg": f"the column '{name}' appears twice"})
        positions[fld] = idx
    for col in columns:
        if col.required and col.field not in positions:
            errors.append(
                {"loc": ["columns", col.header], "msg": f"the column '{col.header}' is missing"}
            )
    if errors:
        raise ImportRejected(
            errors, detail="Nothing was imported: the header row (row 1) is wrong."
        )
    return positions


def _raw_rows(content: bytes, filename: str) -> Iterator[Sequence[Any]]:
    name = (filename or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return _xlsx_rows(content)
    if name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _unreadable("old .xls workbooks are not read: save the file as .xlsx or .csv")
    return _csv_rows(content)


def _unreadable(msg: str) -> ImportRejected:
    return ImportRejected(
        [{"loc": ["file"], "msg": msg}], detail=f"The file cannot be read: {msg}."
    )


def _xlsx_rows(content: bytes) -> Iterator[Sequence[Any]]:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # the Rust reader is ~20x faster; openpyxl reads the same cells
        return _openpyxl_rows(content)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        # skip_empty_area=False keeps leading blank rows, so row numbers stay the sheet's own
        rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # the reader raises its own error types for broken files
        raise _unreadable(f"not a readable .xlsx workbook ({type(exc).__name__})") from exc
    return iter(rows)


def _openpyxl_rows(content: bytes) -> Iterator[Sequence[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _unreadable(f"not a readable .xlsx workbook ({type(exc).__name__})") from exc
    ws = wb.worksheets[0]

    def rows() -> Iterator[Sequence[Any]]:
        try:
            yield from ws.iter_rows(values_only=True)
        finally:
            wb.close()

    return rows()


def _csv_rows(content: bytes) -> Iterator[Sequence[Any]]:
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable("the CSV is not UTF-8: save it as 'CSV UTF-8'") from None
    return iter(csv.reader(io.StringIO(decoded, newline="")))


# ---- writing ----------------------------------------------------------------------------


def _cells(columns: Sequence[Column], row: Mapping[str, Any]) -> list[Any]:
    out = []
    for col in columns:
        value = row.get(col.field)
        if col.format is not None and value is not None:
            value = col.format(value)
        out.append(value)
    return out


def write_xlsx(
    columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, title: str = "Sheet1"
) -> bytes:
    """A one-sheet workbook: Chinese headers in row 1, one row per mapping (write-only, fast)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title)
    ws.append([c.header for c in columns])
    for row in rows:
        ws.append([xlsx_cell(ws, v) for v in _cells(columns, row)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel shows the Chinese headers), Chinese headers first."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow(
            ["" if v is None else _csv_value(csv_cell(v)) for v in _cells(columns, row)]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _csv_value(value: Any) -> Any:
    # repr-exact floats, without the ".0" of whole numbers, so import gives back the same value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def content_disposition(filename: str) -> str:
    """An attachment header that carries a Chinese file name (RFC 6266 / 5987)."""
    stem, dot, ext = filename.rpartition(".")
    ascii_stem = stem.encode("ascii", "ignore").decode().strip(" -_") or "export"
    ascii_name = f"{ascii_stem}{dot}{ext}" if dot else ascii_stem
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
