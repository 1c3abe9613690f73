"""Spreadsheets (.xlsx, .xls, .ods) for the readers: refused before calamine when they are zip
bombs, declare XML entities, or reach past the grid an import reads; then read with calamine."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ImportFileError
from .readers import MAX_COLUMNS, SNIFF_BYTES, Table, _headers_and_rows

XLSX_MAX_UNCOMPRESSED = 1024 * 1024 * 1024  # all members together
XLSX_MAX_RATIO = 200  # a member this much bigger than its compressed size is a bomb...
XLSX_RATIO_MIN_SIZE = 20 * 1024 * 1024  # ...once it is also big
XLSX_MAX_MEMBERS = 10_000
MAX_SHEET_CELLS = 30_000_000  # rows × columns of a sheet's grid (calamine holds it all)


def check_zip_container(path: str | Path) -> None:
    """Refuse zip bombs and XML with a DTD (entity bombs, XXE) before any parser sees them."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError("This Excel file is damaged or is not really an Excel file.") from exc
    with archive:
        members = archive.infolist()
        bomb = ImportFileError(
            "This Excel file expands to far more data than it contains (a “zip bomb”); "
            "it was not opened."
        )
        if len(members) > XLSX_MAX_MEMBERS:
            raise bomb
        if sum(m.file_size for m in members) > XLSX_MAX_UNCOMPRESSED:
            raise bomb
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > XLSX_RATIO_MIN_SIZE and ratio > XLSX_MAX_RATIO:
                raise bomb
        for member in members:
            if member.filename.endswith((".xml", ".rels", ".vml")):
                _check_xml_prolog(archive, member)


_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _check_xml_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    # A DTD can only appear before the root element, so the prolog is all we need to read.
    with archive.open(member) as stream:
        head = stream.read(SNIFF_BYTES)
    root = _ROOT_START.search(head)
    prolog = head[: root.start()] if root else head
    if (
        b"<!DOCTYPE" in prolog.upper()
        or b"<!ENTITY" in prolog.upper()
        or (root is None and member.file_size > len(head))
    ):
        raise ImportFileError(
            "This Excel file declares XML entities (a possible “XML bomb”); it was not opened."
        )


# A cell (or a row) and its reference: r="XFD1048576" (a row's r holds only the number).
_CELL_REF = re.compile(rb'<(?:\w+:)?(?:c|row)\b[^>]*?\sr="([A-Z]{0,3})([0-9]{1,7})"')
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the named (else the first) worksheet of an .xlsx."""
    from xml.etree import ElementTree

    try:  # check_zip_container has refused any DTD: these small parts are safe to parse
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    sheets = [e for e in workbook.iter() if e.tag.endswith("}sheet") or e.tag == "sheet"]
    chosen = next((e for e in sheets if e.get("name") == sheet), None) if sheet else None
    chosen = chosen if chosen is not None else (sheets[0] if sheets else None)
    if chosen is None:
        return None
    targets = {e.get("Id"): e.get("Target", "") for e in rels.iter() if e.get("Id")}
    target = targets.get(chosen.get(_REL_NS))
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def check_sheet_extent(path: str | Path, sheet: str = "") -> None:
    """Refuse a sheet whose cells reach past the column limit, or span more cells than an
    import reads, from the sheet's XML before calamine sizes its grid by them (a 4.8 KB file
    holding A1 and XFD1048576 asks it for 512 GiB)."""
    with zipfile.ZipFile(path) as archive:
        member = _sheet_member(archive, sheet)
        if member is None or member not in archive.namelist():
            return  # not an .xlsx laid out as usual: calamine judges it
        rows = columns = 0
        tail = b""
        with archive.open(member) as stream:
            while chunk := stream.read(1024 * 1024):
                data = tail + chunk
                found = _CELL_REF.findall(data)
                if found:
                    letters, digits = zip(*found, strict=True)
                    rows = max(rows, *map(int, digits))
                    columns = max(columns, *map(_column_number, set(letters)))
                tail = data[-512:]
    if columns > MAX_COLUMNS:
        raise ImportFileError(
            f"The sheet has cells up to column {columns:,}; an import can have at most "
            f"{MAX_COLUMNS} columns."
        )
    if rows * columns > MAX_SHEET_CELLS:
        raise ImportFileError(
            f"The sheet spans {rows:,} rows by {columns:,} columns; an import reads at most "
            f"{MAX_SHEET_CELLS:,} cells. Delete the empty rows and columns, or split the file."
        )


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def open_spreadsheet(path, *, has_header: bool, sheet: str) -> Table:
    from python_calamine import CalamineWorkbook

    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        check_zip_container(path)
        check_sheet_extent(path, sheet)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
        if not names:
            raise ImportFileError("This Excel file has no sheets.")
        if sheet and sheet not in names:
            raise ImportFileError(f"This Excel file has no sheet named “{sheet}”.")
        name = sheet or names[0]
        worksheet = workbook.get_sheet_by_name(name)
        height, width = worksheet.total_height, worksheet.total_width
        raw_rows = worksheet.iter_rows()
    except ImportFileError:
        raise
    except Exception as exc:  # calamine raises its own error types for damaged files
        raise ImportFileError(f"This Excel file cannot be read ({exc}).") from exc
    if width > MAX_COLUMNS:
        raise ImportFileError(
            f"The sheet has {width:,} columns; an import can have at most {MAX_COLUMNS}."
        )

    def records() -> Iterator[tuple[int, list[str]]]:
        for number, values in enumerate(raw_rows, start=1):
            yield number, [_cell_text(v) for v in values]

    headers, rows = _headers_and_rows(records(), has_header=has_header)
    table = Table(headers=headers, rows=rows, sheet=name, sheets=names)
    table.total_height = height  # type: ignore[attr-defined]
    return table
