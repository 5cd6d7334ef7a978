"""Adversarial and ordinary spreadsheets built by hand, for the reading-safety tests and bench."""

from __future__ import annotations

import io
import zipfile

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def workbook(sheet_xml_parts: object, *, level: int = 9) -> bytes:
    """A minimal one-sheet .xlsx whose sheet1.xml is the given parts, written streaming."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for part in sheet_xml_parts:  # type: ignore[attr-defined]
                sheet.write(part.encode() if isinstance(part, str) else part)
    return buf.getvalue()


def far_cell_xlsx(*, dimension: bool = True) -> bytes:
    """~1.6 KB: one cell at XFD1048576, so a reader sizing its grid by it needs 512 GB."""
    dim = '<dimension ref="A1:XFD1048576"/>' if dimension else ""
    return workbook(
        [
            SHEET_HEAD,
            dim,
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>项目名称</t></is></c></row>',
            '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>',
        ]
    )


def xml_bomb_xlsx(megabytes: int = 320) -> bytes:
    """A small .xlsx whose sheet expands to `megabytes` MB of XML: millions of small cells."""
    row = "<row>" + "<c><v>1</v></c>" * 50 + "</row>"
    block = row * (1024 * 1024 // len(row) + 1)
    return workbook([SHEET_HEAD, "<sheetData>", *([block] * megabytes), "</sheetData></worksheet>"])


def dense_xlsx(rows: int, columns: int) -> bytes:
    """A plain sheet of `rows` × `columns` numbers with explicit references and no dimension."""

    def parts() -> object:
        yield SHEET_HEAD + "<sheetData>"
        for r in range(1, rows + 1):
            cells = "".join(f'<c r="{_col(c)}{r}"><v>{r}</v></c>' for c in range(1, columns + 1))
            yield f'<row r="{r}">{cells}</row>'
        yield "</sheetData></worksheet>"

    return workbook(parts())


def _col(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out
