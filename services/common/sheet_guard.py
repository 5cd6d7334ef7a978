"""The safety envelope around reading an uploaded spreadsheet: bounded before, contained during.

An upload is checked before any reader sees it: an .xlsx is inspected as a zip (entry sizes, the
compression ratio, and each worksheet's declared `<dimension>`, cell references and cell count,
found by streaming the XML through a scanner, never by parsing it whole). Then the reading runs in
a short-lived worker process started from a fork server, under an address-space limit
(RLIMIT_AS) and a time limit: a native reader that aborts on a huge allocation or a file that
needs more memory than allowed kills the worker, not the service. The rows come back as lists.

Anything over a limit is refused with 413 naming the limit (`SheetTooLarge`); a file no reader
understands is 422 (`ImportRejected`). The limits are settings (`PLANTRACK_SHEET_…`).
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import re
import resource
import zipfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from services.common.errors import DomainError
from services.common.i18n import Text
from services.common.labels import MESSAGES, SHEET_LIMITS
from services.common.settings import Settings, get_settings

MB = 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
# Entries smaller than this may be as compressible as they like: the ratio only matters when a
# small file would expand into something large.
RATIO_FLOOR_BYTES = 10 * MB
SCAN_CHUNK = 1 * MB


@dataclass(frozen=True)
class SheetLimits:
    """How large an uploaded sheet may be, and what its reading may cost."""

    max_rows: int = 200_000
    max_columns: int = 60
    max_cells: int = 4_000_000
    max_uncompressed_mb: int = 200
    max_compression_ratio: float = 100.0
    worker_memory_mb: int = 1536
    read_timeout_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SheetLimits:
        return cls(
            max_rows=settings.sheet_max_rows,
            max_columns=settings.sheet_max_columns,
            max_cells=settings.sheet_max_cells,
            max_uncompressed_mb=settings.sheet_max_uncompressed_mb,
            max_compression_ratio=settings.sheet_max_compression_ratio,
            worker_memory_mb=settings.sheet_worker_memory_mb,
            read_timeout_seconds=settings.sheet_read_timeout_seconds,
        )


class SheetTooLarge(DomainError):
    """The upload is over one of the sheet limits; `limit` names the setting.

    `what` is the key of the limit's wording in `SHEET_LIMITS` (rows, columns, cells, size,
    ratio, time, memory); `entry` names the workbook part a ratio is about."""

    status = 413
    title = "Spreadsheet too large"

    def __init__(
        self, what: str, value: int | float, limit: str, allowed: int | float, entry: str = ""
    ) -> None:
        zh, en = SHEET_LIMITS[what]
        over = Text(zh.format(entry=entry), en.format(entry=entry))
        setting = f"PLANTRACK_{limit.upper()}"
        detail = MESSAGES("sheet_too_large", what=over, value=f"{value:,}", allowed=f"{allowed:,}",
                          setting=setting)  # fmt: skip
        super().__init__(
            detail,
            errors=[
                {
                    "loc": ["file"],
                    "msg": MESSAGES(
                        "sheet_over_limit",
                        what=over,
                        value=f"{value:,}",
                        limit=limit,
                        allowed=f"{allowed:,}",
                    ),  # fmt: skip
                }
            ],
            extra={"limit": limit, "limit_value": allowed},
        )


_configured: SheetLimits | None = None


def configure(settings: Settings) -> None:
    """Use this process's settings for every later read (each service calls it at start)."""
    global _configured
    _configured = SheetLimits.from_settings(settings)


def current_limits() -> SheetLimits:
    return _configured or SheetLimits.from_settings(get_settings())


def read_rows(content: bytes, filename: str, limits: SheetLimits | None = None) -> list[list[Any]]:
    """The raw rows of an upload's first sheet, read inside the envelope (see the module doc)."""
    return read_tables(content, filename, sheets=(), limits=limits)[0][1]


def read_tables(
    content: bytes,
    filename: str,
    *,
    sheets: Collection[str] | None = None,
    limits: SheetLimits | None = None,
) -> list[tuple[str, list[list[Any]]]]:
    """The raw rows of an upload's sheets (all, or the first and those named in `sheets`), read
    inside the envelope (see the module doc); the limits hold for all the sheets together."""
    limits = limits or current_limits()
    if is_xlsx(content, filename):
        inspect_xlsx(content, limits)
    outcome = _run_worker(content, filename, limits, sheets)
    tables = _outcome(outcome, limits)
    if not is_xlsx(content, filename):
        tables = [
            (name, [[_unquote(cell) for cell in row] for row in rows]) for name, rows in tables
        ]
    return tables


def drain(rows: list[list[Any]]) -> Iterator[list[Any]]:
    """The rows one by one, each let go once taken, so a long sheet is not held twice."""
    rows.reverse()
    while rows:
        yield rows.pop()


def is_xlsx(content: bytes, filename: str) -> bool:
    return content[:4] == XLSX_MAGIC or (filename or "").lower().endswith((".xlsx", ".xlsm"))


# ---- before reading: the zip and the worksheets' XML ------------------------------------


def inspect_xlsx(content: bytes, limits: SheetLimits) -> None:
    """Refuse a workbook over a limit from its zip directory and a streaming scan of its sheets."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except Exception:  # noqa: BLE001 - any damage at all
        return  # not a zip at all: the reader says so, with its own words, in the worker
    max_bytes = limits.max_uncompressed_mb * MB
    total = sum(e.file_size for e in entries)
    if total > max_bytes:
        raise SheetTooLarge(
            "size", total // MB, "sheet_max_uncompressed_mb",
            limits.max_uncompressed_mb,
        )  # fmt: skip
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise SheetTooLarge(
                "ratio", round(ratio), "sheet_max_compression_ratio",
                limits.max_compression_ratio, entry.filename,
            )  # fmt: skip
    for entry in entries:
        if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
            try:
                with archive.open(entry) as stream:
                    _check_extent(scan_worksheet(_chunks(stream)), limits)
            except SheetTooLarge:
                raise
            except Exception:  # noqa: BLE001 - zlib, zipfile and the OS each have their own
                return  # a damaged entry: the reader refuses it in the worker


@dataclass
class Extent:
    """What a worksheet's XML declares and holds, as found by `scan_worksheet`."""

    declared_rows: int = 0
    declared_columns: int = 0
    max_row: int = 0
    max_column: int = 0
    cells: int = 0
    rows: int = 0


_REF = rb"""\br\s*=\s*["']\$?([A-Za-z]{0,3})\$?([0-9]{1,10})["']"""
_FILLED = rb"[^>]*(?<!/)(?:>|$)"  # the rest of a start tag that does not end in "/>"


@dataclass(frozen=True)
class _Patterns:
    """What the scanner looks for: every cell and row, and the references of those with a
    value. Each runs over a stretch of XML at once; `<c` and `<row` as the literal start let
    the regex engine skip ahead, so a prefixed form (`<x:c`) is used only when one is there."""

    cell: re.Pattern[bytes]
    row: re.Pattern[bytes]
    filled_cell: re.Pattern[bytes]
    filled_row: re.Pattern[bytes]
    dimension: re.Pattern[bytes]

    @classmethod
    def of(cls, start: bytes) -> _Patterns:
        return cls(
            cell=re.compile(start + rb"c[\s>/]"),
            row=re.compile(start + rb"row[\s>/]"),
            filled_cell=re.compile(start + rb"c[\s>/][^>]*?" + _REF + _FILLED),
            filled_row=re.compile(start + rb"row[\s>/][^>]*?" + _REF + _FILLED),
            dimension=re.compile(start + rb"dimension[\s>/]([^>]*)>?"),
        )


_PLAIN = _Patterns.of(b"<")
_PREFIXED = _Patterns.of(rb"<(?:[A-Za-z_][\w.-]*:)?")
_ANY_PREFIXED = re.compile(rb":(?:c|row|dimension)[\s>/]")
_DIMENSION = re.compile(rb'\bref\s*=\s*["\']([^"\']*)["\']')
_A1 = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,10})")


def scan_worksheet(chunks: Iterable[bytes]) -> Extent:
    """Count rows and cells and find the furthest reference, a chunk at a time.

    Cells and rows without a value (`<c r="…"/>`) do not widen the sheet (readers skip them),
    but every cell element counts towards the cell limit.
    """
    extent = Extent()
    tail = b""
    for chunk in chunks:
        data = tail + chunk
        cut = data.rfind(b"<")
        if cut <= 0:
            tail = data[-4096:]
            continue
        _scan(data[:cut], extent)
        tail = data[cut:]
        if len(tail) > 64 * 1024:  # one tag this long is not a sheet a person made
            tail = tail[-4096:]
    _scan(tail, extent)
    return extent


def _scan(data: bytes, extent: Extent) -> None:
    """A stretch of whole tags; a reference's text is converted once however many cells share
    its row or column."""
    find = _PREFIXED if _ANY_PREFIXED.search(data) else _PLAIN
    for match in find.dimension.finditer(data):
        found = _DIMENSION.search(match.group(1))
        if found:
            rows, cols = _dimension_size(found.group(1).decode("ascii", "replace"))
            extent.declared_rows = max(extent.declared_rows, rows)
            extent.declared_columns = max(extent.declared_columns, cols)
    extent.cells += len(find.cell.findall(data))
    extent.rows += len(find.row.findall(data))
    cells = find.filled_cell.findall(data)
    numbers = {number for _, number in cells}
    numbers.update(number for _, number in find.filled_row.findall(data))
    if numbers:
        extent.max_row = max(extent.max_row, *map(int, numbers))
    letters = {letters for letters, _ in cells if letters}
    if letters:
        extent.max_column = max(extent.max_column, *(column_number(c.decode()) for c in letters))


def column_number(letters: str) -> int:
    """'A' → 1, 'BZ' → 78, 'XFD' → 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def _dimension_size(ref: str) -> tuple[int, int]:
    corners = _A1.findall(ref)
    if not corners:
        return 0, 0
    rows = [int(r) for _, r in corners]
    cols = [column_number(c) for c, _ in corners]
    return max(rows) - min(rows) + 1, max(cols) - min(cols) + 1


def _check_extent(extent: Extent, limits: SheetLimits) -> None:
    rows = max(extent.declared_rows, extent.max_row, extent.rows)
    columns = max(extent.declared_columns, extent.max_column)
    if rows > limits.max_rows:
        raise SheetTooLarge("rows", rows, "sheet_max_rows", limits.max_rows)
    if columns > limits.max_columns:
        raise SheetTooLarge("columns", columns, "sheet_max_columns", limits.max_columns)
    if extent.cells > limits.max_cells:
        raise SheetTooLarge("cells", extent.cells, "sheet_max_cells", limits.max_cells)


def _chunks(stream: io.BufferedIOBase) -> Iterable[bytes]:
    while chunk := stream.read(SCAN_CHUNK):
        yield chunk


# ---- during reading: a worker process under a memory and a time limit --------------------

_context = multiprocessing.get_context("forkserver")
# The fork server imports the readers once; each worker forks from it with them loaded. (A
# process started as `python -m …` is not re-imported in the workers; a script's main module is.)
_context.set_forkserver_preload(["services.common.spreadsheet", "python_calamine", "openpyxl"])


def _run_worker(
    content: bytes, filename: str, limits: SheetLimits, sheets: Collection[str] | None = None
) -> tuple[Any, ...]:
    receive, send = _context.Pipe(duplex=False)
    worker = _context.Process(
        target=_worker,
        args=(send, content, filename, limits, sheets),
        name="plantrack-sheet-reader",
    )
    worker.start()
    send.close()
    try:
        if not receive.poll(limits.read_timeout_seconds):
            return ("timeout",)
        return receive.recv()
    except (EOFError, OSError):
        # The worker died without answering: a native abort or the kernel's memory refusal.
        return ("died", worker.exitcode)
    finally:
        receive.close()
        if worker.is_alive():
            worker.kill()
        worker.join()


def _outcome(outcome: tuple[Any, ...], limits: SheetLimits) -> list[tuple[str, list[list[Any]]]]:
    from services.common.spreadsheet import ImportRejected
    from services.common.spreadsheet import _unreadable as unreadable

    kind = outcome[0]
    if kind == "rows":
        return outcome[1]
    if kind == "limit":
        raise SheetTooLarge(*outcome[1:])
    if kind == "rejected":
        raise ImportRejected(outcome[1], detail=outcome[2])
    if kind == "unreadable":
        raise unreadable(outcome[1])
    if kind == "timeout":
        raise SheetTooLarge(
            "time", limits.read_timeout_seconds,
            "sheet_read_timeout_seconds", limits.read_timeout_seconds,
        )  # fmt: skip
    # "memory" (MemoryError inside the worker) or "died" (killed by an abort or the kernel)
    raise SheetTooLarge(
        "memory", limits.worker_memory_mb,
        "sheet_worker_memory_mb", limits.worker_memory_mb,
    )  # fmt: skip


def _worker(
    send: Connection,
    content: bytes,
    filename: str,
    limits: SheetLimits,
    sheets: Collection[str] | None = None,
) -> None:
    """Runs in the worker process: limit the address space, read, send the rows or the reason."""
    from services.common.spreadsheet import ImportRejected, raw_tables

    os.environ["RUST_BACKTRACE"] = "0"  # a native abort says one line, not fifty
    _limit_address_space(limits.worker_memory_mb * MB)
    try:
        tables, cells = [], 0
        for name, rows in raw_tables(content, filename, sheets):
            bounded = _bounded(rows, limits, cells)
            cells += sum(len(r) for r in bounded)
            tables.append((name, bounded))
        send.send(("rows", tables))
    except _Limit as exc:
        send.send(("limit", *exc.args_for_pickle))
    except ImportRejected as exc:
        send.send(("rejected", exc.errors, exc.detail))
    except csv.Error as exc:  # e.g. a NUL byte or a field longer than the CSV reader's limit
        send.send(("unreadable", MESSAGES("csv_broken", reason=str(exc))))
    except MemoryError:
        send.send(("memory",))
    except Exception as exc:  # readers raise their own error types for broken files
        send.send(("unreadable", MESSAGES("not_xlsx", kind=type(exc).__name__)))
    finally:
        send.close()


def _limit_address_space(budget: int) -> None:
    """The worker may grow by `budget` bytes of address space beyond what it starts with."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[0])
    start = pages * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (start + budget, start + budget))


def _bounded(rows: Iterable[Sequence[Any]], limits: SheetLimits, cells: int = 0) -> list[list[Any]]:
    """The rows as lists without trailing blanks, refused as soon as one count passes its limit
    (`cells`: how many the sheets before this one held)."""
    out: list[list[Any]] = []
    for raw in rows:
        row = list(raw)
        while row and (row[-1] is None or row[-1] == ""):
            row.pop()
        if len(row) > limits.max_columns:
            raise _Limit("columns", len(row), "sheet_max_columns",
                         limits.max_columns)  # fmt: skip
        cells += len(row)
        if cells > limits.max_cells:
            raise _Limit("cells", cells, "sheet_max_cells",
                         limits.max_cells)  # fmt: skip
        out.append(row)
        if len(out) > limits.max_rows:
            raise _Limit("rows", len(out), "sheet_max_rows",
                         limits.max_rows)  # fmt: skip
    while out and not out[-1]:
        out.pop()
    return out


class _Limit(SheetTooLarge):
    """SheetTooLarge that remembers its arguments, to cross back from the worker."""

    def __init__(self, what: str, value: int | float, limit: str, allowed: int | float) -> None:
        super().__init__(what, value, limit, allowed)
        self.args_for_pickle = (what, value, limit, allowed)


# ---- writing: exports never carry a formula or a character the format cannot hold --------

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry, so no .xlsx can hold them (openpyxl refuses the whole file).
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xlsx_cell(sheet: Any, value: Any) -> Any:
    """A value for a write-only sheet: text always a string cell, never a formula.

    Stored text from before control characters were refused is written with U+FFFD in their
    place, so one bad name cannot make every export fail.
    """
    if not isinstance(value, str):
        return value
    if XML_ILLEGAL.search(value):
        value = XML_ILLEGAL.sub("\ufffd", value)
    if value.startswith("="):  # the one prefix openpyxl would write as a formula
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def csv_cell(value: Any) -> Any:
    """A CSV value no spreadsheet runs: text starting like a formula gets a leading `'` (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _unquote(cell: Any) -> Any:
    """`'=1+2` → `=1+2`: the quote the CSV export put before a formula-like text comes off."""
    if isinstance(cell, str) and len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell
