"""Spreadsheet import and export (.xlsx and .csv) keyed by Chinese column headers.

A service describes its sheet once as a list of columns, `(field, 中文表头, parser)` with an
optional `format` for export and a `required` flag:

    COLUMNS = [
        Column("name", "项目名称", text, required=True),
        Column("planned_start", "计划开工", date_value, format=date_cell),
    ]
    sheet = read_sheet(content, filename, COLUMNS)   # every row parsed, every error collected
    ...more checks, adding to sheet.errors with sheet.error(row, field, reason)...
    sheet.raise_if_errors()                          # ImportRejected: all-or-nothing
    data = write_xlsx(COLUMNS, rows)                 # or write_csv

Reading is in two steps, so each can be wrapped on its own (limits, a worker process):
`read_tables` turns the file into raw cell rows per sheet, `parse_table` finds the header row
(below any title rows), skips total and notes rows (合计, 备注, 填表说明) and parses each cell.
Clerks' habits are read as they are: dates as 2024.3.5, 2024/3/5, 2024年3月5日 or Excel serials,
full-width digits and punctuation (５０, ２０２４－０３－０５), merged cells, trailing spaces.

Row numbers are the spreadsheet's own, so a clerk can go straight to the cell; every message
names the sheet, the row, the column and the value, in Chinese and English.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import quote

from services.common.errors import Invalid
from services.common.i18n import Text
from services.common.labels import MESSAGES, SKIPPED_ROWS
from services.common.sheet_guard import csv_cell, xlsx_cell
from services.common.text import refuse_controls

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
HEADER_SEARCH_ROWS = 20  # title rows a clerk may put above the header
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 (with Excel's 1900 leap-year quirk)

Parser = Callable[[Any], Any]
Formatter = Callable[[Any], Any]
Table = list[list[Any]]


class Column(NamedTuple):
    """One column of a sheet: model field, Chinese header, parser (cell → value), export format.

    `choices` (the Chinese labels a cell may hold) become a drop-down list in the export; `width`
    is the export's column width in characters.
    """

    field: str
    header: str
    parse: Parser
    format: Formatter | None = None
    required: bool = False
    choices: Sequence[str] | None = None
    width: float | None = None


class ImportRejected(Invalid):
    """The file has errors; nothing was imported. `errors` lists every bad row and column."""

    title = "Import rejected"

    def __init__(
        self,
        errors: list[dict[str, Any]],
        *,
        detail: str | Text | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        rows = sorted({e["loc"][1] for e in errors if len(e["loc"]) > 1 and e["loc"][0] == "rows"})
        if detail is None:
            shown = _row_list(rows)
            detail = MESSAGES(
                "rejected",
                count=len(errors),
                rows=len(rows),
                where=f"（第 {shown.zh} 行）" if rows else "",
                where_en=f" (rows {shown.en})" if rows else "",
            )
        super().__init__(detail, errors=errors, extra={"rejected_rows": rows, **(extra or {})})


def _row_list(rows: list[int], shown: int = 20) -> Text:
    head = ", ".join(str(r) for r in rows[:shown])
    more = len(rows) - shown
    return Text(
        head + (f" 等（另有 {more} 行）" if more > 0 else ""),
        head + (f" and {more} more" if more > 0 else ""),
    )


@dataclass
class Sheet:
    """The parsed rows of a sheet (`(row_number, {field: value})`) and every problem found."""

    name: str = ""
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # field → header as written
    raw: dict[int, dict[str, Any]] = field(default_factory=dict)  # row → {field: cell}
    columns: frozenset[str] = frozenset()  # the fields the file has a column for
    main: bool = True  # errors of the main sheet are located ["rows", n, field]

    def loc(self, row: int, field_name: str) -> list[Any]:
        return ["rows", row, field_name] if self.main else ["sheets", self.name, row, field_name]

    def error(self, row: int, field_name: str, reason: str | Text) -> None:
        """Record a problem with one cell, naming the sheet, row, column and value."""
        value = self.raw.get(row, {}).get(field_name)
        column = self.headers.get(field_name, field_name)
        if value is None:
            msg = MESSAGES("cell_blank", sheet=self.name, row=row, column=column, reason=reason)
        else:
            msg = MESSAGES(
                "cell", sheet=self.name, row=row, column=column, value=_shown(value), reason=reason
            )
        self.errors.append({"loc": self.loc(row, field_name), "msg": msg})

    def row_error(self, row: int, reason: str | Text) -> None:
        """A problem with a whole row (not one cell)."""
        msg = Text(f"工作表「{self.name}」第 {row} 行：", f"sheet '{self.name}' row {row}: ")
        self.errors.append({"loc": self.loc(row, "row")[:-1], "msg": msg + reason})

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ImportRejected(sorted_errors(self.errors), extra=self.report())

    def report(self) -> dict[str, Any]:
        return {"skipped_rows": self.skipped} if self.skipped else {}


def sorted_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        loc = e["loc"]
        if loc[0] == "rows":
            return (1, "", loc[1] if len(loc) > 1 else 0)
        if loc[0] == "sheets":
            return (2, str(loc[1]), loc[2] if len(loc) > 2 else 0)
        return (0, "", 0)

    return sorted(errors, key=key)


def _shown(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    shown = str(value)
    return shown if len(shown) <= 60 else shown[:57] + "…"


def _reason(exc: ValueError) -> str | Text:
    return exc.args[0] if exc.args and isinstance(exc.args[0], Text) else str(exc)


# ---- normalising what clerks type ----------------------------------------------------------

# Full-width digits and Latin letters, and the ideographic space, in free text; the Chinese
# punctuation of names (（）、，) is left as written.
_WIDTH = {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF10, 0xFF1A)}
_WIDTH |= {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF21, 0xFF3B)}
_WIDTH |= {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFF41, 0xFF5B)}
_WIDTH |= {0x3000: " ", 0x00A0: " "}


def folded(value: str) -> str:
    """Everything full-width made plain (digits, letters, punctuation), for codes and numbers."""
    out = unicodedata.normalize("NFKC", value)
    return out.replace("\u2212", "-").replace("\u2014", "-").replace("\u2013", "-").strip()


def header_key(value: Any) -> str:
    """A header as matched: full-width folded, spaces and line breaks removed."""
    return "".join(folded(str(value)).split()).lstrip("\ufeff") if value is not None else ""


# ---- parsers (cell → value; ValueError says why) -------------------------------------------


_NEEDS_FOLDING = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\u00a0]")


def text(value: Any) -> str:
    """Text as given, trimmed; full-width digits and letters made plain, Excel's ".0" dropped;
    invisible control characters refused (tabs and line breaks kept)."""
    if type(value) is not str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, datetime | date):
            return value.isoformat()[:10]
        value = str(value)
    if _NEEDS_FOLDING.search(value) is not None:
        value = value.translate(_WIDTH)
    return refuse_controls(value.strip())


def code_text(value: Any) -> str:
    """A code-like value (a clause number, a certificate number): wholly full-width folded."""
    out = text(value)
    return out if out.isascii() else folded(out)


def _numeric(value: Any) -> str:
    return folded(str(value)).replace(",", "").replace("，", "").replace(" ", "")


def integer(value: Any) -> int:
    """A whole number (Excel's 12.0 counts as 12; full-width ５０ as 50)."""
    if type(value) is float and value.is_integer():
        return int(value)
    if isinstance(value, bool):
        raise ValueError(MESSAGES("not_whole", value=value))
    if isinstance(value, int):
        return value
    try:
        number_ = float(_numeric(value))
    except ValueError:
        raise ValueError(MESSAGES("not_whole", value=value)) from None
    if not number_.is_integer():
        raise ValueError(MESSAGES("not_whole", value=value))
    return int(number_)


def number(value: Any) -> float:
    """A decimal number; thousands separators and full-width digits are accepted."""
    if isinstance(value, bool):
        raise ValueError(MESSAGES("not_number", value=value))
    if isinstance(value, int | float):
        return float(value)
    try:
        out = float(_numeric(value))
    except ValueError:
        raise ValueError(MESSAGES("not_number", value=value)) from None
    if out != out or out in (float("inf"), float("-inf")):
        raise ValueError(MESSAGES("not_number", value=value))
    return out


def non_negative(value: Any) -> float:
    n = number(value)
    if n < 0:
        raise ValueError(MESSAGES("negative", value=f"{n:g}"))
    return n


_DATE = re.compile(
    r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def date_value(value: Any) -> date:
    """A date: a date cell, an Excel date serial, or text as clerks write it.

    2024-03-05, 2024-3-5, 2024/3/5, 2024.3.5, 2024年3月5日, 20240305, full-width
    ２０２４－０３－０５, and a trailing time of day (00:00:00) are all read as 2024-03-05.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_number(value)
    raw = folded(str(value))
    match = _DATE.fullmatch(raw) or _COMPACT_DATE.fullmatch(raw)
    if match is None:
        try:
            return _from_number(float(raw))
        except ValueError:
            raise ValueError(MESSAGES("not_date", value=value)) from None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise ValueError(MESSAGES("not_date", value=value)) from None


def _from_number(value: float) -> date:
    if value.is_integer() and 19000101 <= value <= 29991231:  # 20240305 typed as a number
        return date_value(str(int(value)))
    if value.is_integer() and 1 <= value <= 2958465:  # an Excel serial without a date format
        return EXCEL_EPOCH + timedelta(days=int(value))
    raise ValueError(MESSAGES("not_date", value=_shown(value)))


def choice(allowed: Mapping[str, str]) -> Parser:
    """A code out of `allowed` ({code: 中文标签}); the cell may hold the code or the label."""
    by_label = {label: code for code, label in allowed.items()}

    def parse(value: Any) -> str:
        raw = text(value)
        if raw in allowed:
            return raw
        if raw in by_label:
            return by_label[raw]
        loose = "".join(folded(raw).split())
        for code, label in allowed.items():
            if loose in (code, "".join(folded(label).split())):
                return code
        options = Text(
            "、".join(allowed.values()), ", ".join(f"{c} ({lbl})" for c, lbl in allowed.items())
        )
        raise ValueError(MESSAGES("not_one_of", value=raw, options=options))

    return parse


def date_cell(value: Any) -> Any:
    """Export format for dates: a real date cell (the xlsx writer gives it a date format)."""
    return value


# ---- reading ----------------------------------------------------------------------------


def read_sheet(
    content: bytes, filename: str, columns: Sequence[Column], *, sheet: str | None = None
) -> Sheet:
    """Parse the first sheet (or the one named `sheet`) of an upload, collecting every error.

    Headers may be the Chinese header or the field name; unknown columns are ignored, a missing
    required column or an unreadable file raises ImportRejected at once.
    """
    tables = read_tables(content, filename, sheets=() if sheet is None else (sheet,))
    name, rows = tables[0]
    if sheet is not None:
        name, rows = next(((n, r) for n, r in tables if n == sheet), tables[0])
    return parse_table(name, rows, columns)


def read_tables(
    content: bytes, filename: str, *, sheets: Collection[str] | None = None
) -> list[tuple[str, Table]]:
    """The sheets of an upload as raw cell rows: all, or the first and those named in `sheets`.

    Bounded and read in a worker process (services.common.sheet_guard).
    """
    from services.common.sheet_guard import read_tables as guarded

    return guarded(content, filename, sheets=sheets)


def raw_tables(
    content: bytes, filename: str, sheets: Collection[str] | None = None
) -> list[tuple[str, Table]]:
    """The sheets of an .xlsx (a .csv is one sheet) as rows of raw cell values, in order: all
    of them, or the first and those named in `sheets`. Unguarded: the envelope calls it."""
    name = (filename or "").lower()
    if content[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return _xlsx_tables(content, sheets)
    if name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise _unreadable(MESSAGES("old_xls"))
    stem = (filename or "CSV").rsplit("/", 1)[-1].rsplit(".", 1)[0] or "CSV"
    return [(stem, _csv_rows(content))]


def parse_table(name: str, table: Table, columns: Sequence[Column], *, main: bool = True) -> Sheet:
    """The rows of one sheet, keyed by field, from the header row on (title rows above skipped)."""
    sheet = Sheet(name=name, main=main)
    header_at = _find_header(table, columns)
    if header_at is None:
        if not any(any(_blank_to_none(c) is not None for c in r) for r in table):
            raise ImportRejected(
                [{"loc": ["file"], "msg": MESSAGES("file_empty")}], detail=MESSAGES("file_empty")
            )
        need = "、".join(c.header for c in columns if c.required) or columns[0].header
        msg = MESSAGES("no_header", sheet=name, rows=HEADER_SEARCH_ROWS, need=need)
        raise ImportRejected([{"loc": ["file"], "msg": msg}], detail=msg)
    positions = _match_headers(name, header_at + 1, table[header_at], columns, sheet)
    _parse_rows(sheet, table, header_at + 1, positions, columns)
    return sheet


def _find_header(table: Table, columns: Sequence[Column]) -> int | None:
    """The index of the row that names the most columns (a required one among them)."""
    names = {header_key(c.header) for c in columns} | {c.field for c in columns}
    required = {header_key(c.header) for c in columns if c.required} | {
        c.field for c in columns if c.required
    }
    best, best_hits = None, 0
    for idx, row in enumerate(table[:HEADER_SEARCH_ROWS]):
        keys = {header_key(c) for c in row if c is not None and c != ""}
        hits = len(keys & names)
        if hits > best_hits and (not required or keys & required or hits >= 3):
            best, best_hits = idx, hits
    return best


def _parse_rows(
    sheet: Sheet, table: Table, first: int, positions: dict[str, int], columns: Sequence[Column]
) -> None:
    used = [(col, positions.get(col.field)) for col in columns]
    for idx in range(first, len(table)):
        row_no = idx + 1
        cells = table[idx]
        present = next((c for c in cells if c is not None and c != "" and _blank_to_none(c)), None)
        if present is None:
            continue
        kind = _skipped_kind(present)
        if kind is not None:
            msg = MESSAGES(
                "row_skipped",
                sheet=sheet.name,
                row=row_no,
                kind=kind[0],
                kind_en=kind[1],
                value=_shown(present),
            )
            sheet.skipped.append({"row": row_no, "msg": msg})
            continue
        width = len(cells)
        raw = {
            col.field: _blank_to_none(cells[i]) if i is not None and i < width else None
            for col, i in used
        }
        sheet.raw[row_no] = raw
        values: dict[str, Any] = {}
        for col, _ in used:
            cell = raw[col.field]
            if cell is None:
                if col.required:
                    sheet.errors.append(
                        {
                            "loc": sheet.loc(row_no, col.field),
                            "msg": MESSAGES(
                                "cell_required",
                                sheet=sheet.name,
                                row=row_no,
                                column=sheet.headers.get(col.field, col.header),
                            ),
                        }
                    )
                values[col.field] = None
                continue
            try:
                values[col.field] = col.parse(cell)
            except ValueError as exc:
                sheet.error(row_no, col.field, _reason(exc))
        sheet.rows.append((row_no, values))


_SKIP_STARTS = frozenset(word[0] for word in SKIPPED_ROWS)


def _skipped_kind(first: Any) -> tuple[str, str] | None:
    """(中文, English) kind of a total or notes row, judged by its first filled cell."""
    if type(first) is not str or first.lstrip(_SPACES)[:1] not in _SKIP_STARTS:
        return None
    key = "".join(folded(first).split())
    for word, kind in SKIPPED_ROWS.items():
        if not key.startswith(word):
            continue
        rest = key[len(word) :]
        if not rest or rest[0] in ":：(（、,，.。" or word in ("合计", "总计", "小计", "填表说明"):
            return kind
    return None


def _blank_to_none(cell: Any) -> Any:
    if type(cell) is str:
        return cell.strip(_SPACES) or None
    return cell


_SPACES = " \t\r\n\u3000\u00a0"


def _match_headers(
    name: str, row_no: int, header: Sequence[Any], columns: Sequence[Column], sheet: Sheet
) -> dict[str, int]:
    lookup = {}
    for col in columns:
        lookup[header_key(col.header)] = col
        lookup[col.field] = col
    positions: dict[str, int] = {}
    errors = []
    for idx, cell in enumerate(header):
        col = lookup.get(header_key(cell))
        if col is None:
            continue
        if col.field in positions:
            msg = MESSAGES("column_twice", column=col.header)
            errors.append({"loc": ["columns", col.header], "msg": msg})
        positions[col.field] = idx
        sheet.headers[col.field] = str(cell).strip()
    for col in columns:
        sheet.headers.setdefault(col.field, col.header)
        if col.required and col.field not in positions:
            msg = MESSAGES("column_missing", column=col.header)
            errors.append({"loc": ["columns", col.header], "msg": msg})
    if errors:
        raise ImportRejected(errors, detail=MESSAGES("header_wrong", sheet=name, row=row_no))
    sheet.columns = frozenset(positions)
    return positions


def _unreadable(msg: Text) -> ImportRejected:
    return ImportRejected([{"loc": ["file"], "msg": msg}], detail=MESSAGES("unreadable", msg=msg))


def _xlsx_tables(content: bytes, sheets: Collection[str] | None = None) -> list[tuple[str, Table]]:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # the Rust reader is ~20x faster; openpyxl reads the same cells
        return _openpyxl_tables(content, sheets)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        out = []
        for i, name in enumerate(workbook.sheet_names):
            if sheets is not None and i > 0 and name not in sheets:
                continue
            ws = workbook.get_sheet_by_name(name)
            # skip_empty_area=False keeps leading blank rows, so row numbers stay the sheet's own
            rows = ws.to_python(skip_empty_area=False)
            _fill_merged(rows, ws.merged_cell_ranges or [])
            out.append((name, rows))
    except Exception as exc:  # the reader raises its own error types for broken files
        raise _unreadable(MESSAGES("not_xlsx", kind=type(exc).__name__)) from exc
    if not out:
        raise _unreadable(MESSAGES("not_xlsx", kind="no sheet"))
    return out


def _fill_merged(rows: Table, ranges: Iterable[Any]) -> None:
    """A merged range's value in every cell of it (a sub-district merged down ten rows)."""
    for (r0, c0), (r1, c1) in ranges:
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        if r0 == r1:  # merged across one row (a title): the value belongs to its first cell
            continue
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                row[c] = value


def _openpyxl_tables(
    content: bytes, sheets: Collection[str] | None = None
) -> list[tuple[str, Table]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(content), data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _unreadable(MESSAGES("not_xlsx", kind=type(exc).__name__)) from exc
    out = []
    for i, ws in enumerate(wb.worksheets):
        if sheets is not None and i > 0 and ws.title not in sheets:
            continue
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        ranges = [
            ((m.min_row - 1, m.min_col - 1), (m.max_row - 1, m.max_col - 1))
            for m in ws.merged_cells.ranges
        ]
        _fill_merged(rows, ranges)
        out.append((ws.title, rows))
    return out


def _csv_rows(content: bytes) -> Table:
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable(MESSAGES("not_utf8")) from None
    try:
        return [list(r) for r in csv.reader(io.StringIO(decoded, newline=""))]
    except csv.Error as exc:  # e.g. a NUL byte or a broken quote in a CSV
        raise _unreadable(MESSAGES("csv_broken", reason=str(exc))) from exc


# ---- writing ----------------------------------------------------------------------------


def _cells(columns: Sequence[Column], row: Mapping[str, Any]) -> list[Any]:
    out = []
    for col in columns:
        value = row.get(col.field)
        if col.format is not None and value is not None:
            value = col.format(value)
        out.append(value)
    return out


@dataclass
class SheetSpec:
    """One sheet of an export workbook: its title, columns and rows."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Mapping[str, Any]]


OPTIONS_SHEET = "选项"


def write_workbook(sheets: Sequence[SheetSpec]) -> bytes:
    """A workbook a clerk can work in: real date cells, the header frozen, column widths set,
    and a drop-down list on every column with `choices` (the lists on a hidden sheet)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook(write_only=True)
    lists: list[Sequence[str]] = []
    for spec in sheets:
        ws = wb.create_sheet(title=spec.title)
        ws.freeze_panes = "B2"
        bold = Font(bold=True)
        for i, col in enumerate(spec.columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = col.width or max(10, len(col.header) * 2 + 2)
            if col.choices:
                lists.append(col.choices)
                ref = f"'{OPTIONS_SHEET}'!${get_column_letter(len(lists))}$1:"
                ref += f"${get_column_letter(len(lists))}${len(col.choices)}"
                dv = DataValidation(type="list", formula1=ref, allow_blank=True)
                dv.add(f"{letter}2:{letter}1048576")
                ws.data_validations.append(dv)
        header = []
        for col in spec.columns:
            cell = WriteOnlyCell(ws, value=col.header)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in spec.rows:
            out = []
            for value in _cells(spec.columns, row):
                if isinstance(value, date):
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = "yyyy-mm-dd"
                    out.append(cell)
                else:
                    out.append(xlsx_cell(ws, value))
            ws.append(out)
    if lists:
        options = wb.create_sheet(title=OPTIONS_SHEET)
        options.sheet_state = "hidden"
        for i in range(max(len(c) for c in lists)):
            options.append([c[i] if i < len(c) else None for c in lists])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(
    columns: Sequence[Column], rows: Iterable[Mapping[str, Any]], *, title: str = "Sheet1"
) -> bytes:
    """A one-sheet workbook: Chinese headers in row 1, one row per mapping."""
    return write_workbook([SheetSpec(title, columns, rows)])


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
    if isinstance(value, date):
        return value.isoformat()[:10]
    return value


def content_disposition(filename: str) -> str:
    """An attachment header that carries a Chinese file name (RFC 6266 / 5987)."""
    stem, dot, ext = filename.rpartition(".")
    ascii_stem = stem.encode("ascii", "ignore").decode().strip(" -_") or "export"
    ascii_name = f"{ascii_stem}{dot}{ext}" if dot else ascii_stem
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
