"""Readers: every import format streams the same rows (I1).

`open_table(path, fmt, has_header=..., sheet=...)` is a context manager giving a `Table`: its
column headers and an iterator of `(row_number, cells, error)` where `row_number` is the record's
number in the file (the header is 1), `cells` a list of trimmed strings as long as the headers,
and `error` a message when the record itself cannot be read (a broken vCard) or None.
Entirely blank records are skipped and never yielded.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .errors import ImportFileError

MAX_COLUMNS = 500
MAX_CELL_CHARS = 131_072  # the csv module's own default limit, made explicit
MAX_RECORD_CHARS = 1024 * 1024  # a row of a contacts file is far shorter
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
XLSX_MAX_UNCOMPRESSED = 1024 * 1024 * 1024  # all members together
XLSX_MAX_RATIO = 200  # a member this much bigger than its compressed size is a bomb...
XLSX_RATIO_MIN_SIZE = 20 * 1024 * 1024  # ...once it is also big
XLSX_MAX_MEMBERS = 10_000
MAX_SHEET_CELLS = 30_000_000  # rows × columns of a sheet's grid (calamine holds it all)
SPREADSHEET_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
VCARD_EXTENSIONS = {".vcf", ".vcard"}
MAX_CARD_MB = 1  # a card with a photo is a few hundred KB
MAX_CARD_CHARS = MAX_CARD_MB * 1024 * 1024
VCARD_FIELDS = ["first_name", "last_name", "phone", "email", "company"]

Row = tuple[int, list[str], str | None]


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[Row]
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    sheets: list[str] | None = None


def _latin1_fallback(error: UnicodeDecodeError):
    # Windows-1252 leaves five bytes undefined; read them as Latin-1 rather than failing.
    bad = error.object[error.start : error.end]
    return bad.decode("latin-1"), error.end


codecs.register_error("herald_latin1", _latin1_fallback)


def detect_format(filename: str, head: bytes) -> str:
    """ "csv", "xlsx" or "vcard", from the content first and the file name second."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xlsx"
    text = head[:4096].lstrip(b"\xef\xbb\xbf \r\n\t").upper()
    if text.startswith(b"BEGIN:VCARD"):
        return "vcard"
    suffix = Path(filename).suffix.lower()
    if suffix in SPREADSHEET_EXTENSIONS:
        return "xlsx"
    if suffix in VCARD_EXTENSIONS:
        return "vcard"
    return "csv"


@contextmanager
def open_table(
    path: str | Path,
    fmt: str,
    *,
    has_header: bool = True,
    sheet: str = "",
    encoding: str = "",
    delimiter: str = "",
):
    """The file as a Table. A delimited file's `encoding` and `delimiter`, when known (sniffed
    at upload and kept on the job), spare reading the whole file again to find them."""
    if fmt == "xlsx":
        table = _open_spreadsheet(path, has_header=has_header, sheet=sheet)
        yield table
    elif fmt == "vcard":
        yield Table(headers=list(VCARD_FIELDS), rows=_vcard_rows(path), encoding="")
    else:
        encoding = encoding or detect_encoding(path)
        with open(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="herald_latin1", newline="")
            if not delimiter:
                delimiter = _sniff_delimiter(text)
                text.seek(0)
            reader = _csv_records(text, delimiter)
            headers, rows = _headers_and_rows(reader, has_header=has_header)
            yield Table(headers=headers, rows=rows, encoding=encoding, delimiter=delimiter)


# --- delimited text -------------------------------------------------------------------------


def detect_encoding(path: str | Path) -> str:
    """BOM first (UTF-8, UTF-16 as Excel's "Unicode Text"), then strict UTF-8, else cp1252."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        else:
            encoding = "utf-8"
        _reject_binary(head)
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return encoding


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _reject_binary(head: bytes) -> None:
    if not head:
        return
    controls = len(_CONTROL.findall(head))
    if b"\x00" in head or controls > max(2, len(head) // 100):
        raise ImportFileError(
            "This file is not text: it looks like a binary file. Upload a CSV, TSV, Excel "
            "(.xlsx) or vCard (.vcf) file."
        )


def _sniff_delimiter(text: io.TextIOBase) -> str:
    """The candidate delimiter that splits the first records most consistently."""
    sample = text.read(SNIFF_BYTES)
    complete = (
        sample if len(sample) < SNIFF_BYTES else sample[: max(sample.rfind("\n"), 0)] or sample
    )
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            records = [
                r for r in csv.reader(io.StringIO(complete, newline=""), delimiter=delimiter) if r
            ]
        except csv.Error:
            continue
        records = records[:100]
        if not records:
            continue
        width, count = Counter(len(r) for r in records).most_common(1)[0]
        if width < 2:
            continue
        score = (count / len(records), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _RecordTooLong(Exception):
    pass


def _csv_records(text: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    csv.field_size_limit(MAX_CELL_CHARS)
    # The csv module splits a record into as many cells as it has delimiters: a 20 MB row of
    # commas became millions of cells (569 MB). Lines reach it through a counter that stops a
    # record past MAX_RECORD_CHARS, and no line is read whole past it either.
    size = [0]

    def lines() -> Iterator[str]:
        for line in iter(partial(text.readline, MAX_RECORD_CHARS + 1), ""):
            size[0] += len(line)
            if size[0] > MAX_RECORD_CHARS:
                raise _RecordTooLong
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, strict=False)
    number = 0
    while True:
        size[0] = 0
        try:
            record = next(reader)
        except StopIteration:
            return
        except _RecordTooLong:
            raise ImportFileError(
                f"Row {number + 1:,} (from line {reader.line_num + 1:,}) is longer than "
                f"{MAX_RECORD_CHARS // (1024 * 1024)} MB. This does not look like a contacts file."
            ) from None
        except csv.Error as exc:
            line = reader.line_num
            if "field larger than field limit" in str(exc):
                raise ImportFileError(
                    f"Line {line:,} holds a value longer than {MAX_CELL_CHARS:,} characters. "
                    "This does not look like a contacts file."
                ) from exc
            raise ImportFileError(f"Line {line:,} cannot be read: {exc}.") from exc
        number += 1
        yield number, record


def _headers_and_rows(records: Iterator[tuple[int, list[str]]], *, has_header: bool):
    """Split the header off (or invent one), and stream the data rows padded to its width."""
    first = None
    for number, record in records:
        cells = [c.strip() for c in record]
        if any(cells):
            first = (number, cells)
            break
    if first is None:
        raise ImportFileError("The file is empty: it has no rows.")
    if len(first[1]) > MAX_COLUMNS:
        raise ImportFileError(
            f"The first row has {len(first[1]):,} columns; "
            f"an import can have at most {MAX_COLUMNS}."
        )
    if has_header:
        headers = unique_headers(first[1])
    else:
        headers = [f"Column {i}" for i in range(1, len(first[1]) + 1)]

    def rows() -> Iterator[Row]:
        if not has_header:
            yield first[0], first[1], None
        width = len(headers)
        strip = str.strip
        for number, record in records:
            cells = list(map(strip, record))
            if not any(cells):
                continue
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            elif len(cells) > width:
                extra = cells[width:]
                cells = cells[:width]
                if any(extra):
                    yield (
                        number,
                        cells,
                        (
                            f"The row has {width + len(extra)} values "
                            f"but the file has {width} columns."
                        ),
                    )
                    continue
            yield number, cells, None

    return headers, rows()


def unique_headers(cells: list[str]) -> list[str]:
    headers, seen = [], Counter()
    for index, cell in enumerate(cells, start=1):
        name = cell or f"Column {index}"
        seen[name] += 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return headers


# --- spreadsheets ---------------------------------------------------------------------------


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


def _open_spreadsheet(path, *, has_header: bool, sheet: str) -> Table:
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


# --- vCard ----------------------------------------------------------------------------------


def _vcard_encoding(path) -> tuple[str, str]:
    """The encoding and error handler to read a vCard with: BOM first, then strict UTF-8
    (checked over the whole file, incrementally), else Windows-1252."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", "replace"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", "replace"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252", "herald_latin1"
    return "utf-8", "strict"


def _is_quoted_printable(line: str) -> bool:
    return "QUOTED-PRINTABLE" in line.split(":", 1)[0].upper()


def _unfold_quoted_printable(lines: Iterable[str]) -> Iterator[str]:
    """Join vCard 2.1 QUOTED-PRINTABLE soft line breaks ("=" at the end of a line, the value
    going on at the start of the next): they are not folding in the vCard sense.

    Linear in the input: a value's pieces are collected and joined once when it ends (adding
    each piece to the growing line made a crafted file of 1.3 MB take 25 s).
    """
    parts: list[str] = []  # the pieces of a quoted-printable value still going on
    for line in lines:
        if parts:
            parts.append(line)
            if not line.endswith("="):
                yield "".join(parts)
                parts = []
            else:
                parts[-1] = line[:-1]
        elif line.endswith("=") and _is_quoted_printable(line):
            parts.append(line[:-1])
        else:
            yield line
    if parts:
        yield "".join(parts) + "="


def _split_cards(lines: Iterable[str]) -> Iterator[tuple[int, str | None, str]]:
    """(number, card text or None, why not) per card; a card over MAX_CARD_CHARS is refused
    without being kept, so memory stays bounded however long the file is."""
    number, current, size = 0, None, 0
    for line in _unfold_quoted_printable(lines):
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            if current:  # ([] is a card over the limit, already reported)
                yield number, None, f"Card {number} has no END:VCARD line."
            number += 1
            current, size = [line.strip()], len(line)
        elif current is not None:
            size += len(line) + 2
            if size > MAX_CARD_CHARS:
                if current:
                    too_long = (
                        f"Card {number} is longer than {MAX_CARD_MB} MB; a card is far smaller."
                    )
                    yield number, None, too_long
                    current = []  # skipped up to its END:VCARD
                if upper == "END:VCARD":
                    current = None
                continue
            current.append(line)
            if upper == "END:VCARD":
                yield number, "\r\n".join(current) + "\r\n", ""
                current = None
    if current:
        yield number, None, f"Card {number} has no END:VCARD line."


def _types(prop) -> set[str]:
    found = {p.lower() for p in getattr(prop, "singletonparams", [])}
    for key, values in prop.params.items():
        if key.upper() == "TYPE":
            for value in values:
                found.update(v.strip().lower() for v in value.split(","))
        elif key.upper() == "PREF":
            found.add("pref")
    return found


def _best(props, preferred: tuple[str, ...]) -> str:
    def rank(prop):
        types = _types(prop)
        return tuple(0 if p in types else 1 for p in preferred)

    for prop in sorted(props, key=rank):
        value = prop.value if isinstance(prop.value, str) else str(prop.value)
        value = value.strip()
        if value.lower().startswith("tel:"):
            value = value[4:].split(";", 1)[0]
        if value.lower().startswith("mailto:"):
            value = value[7:]
        if value:
            return value
    return ""


def card_to_cells(card) -> list[str]:
    first = last = ""
    if "n" in card.contents:
        name = card.n.value
        first = " ".join(filter(None, [str(name.given).strip(), str(name.additional).strip()]))
        last = str(name.family).strip()
    if not (first or last) and "fn" in card.contents:
        full = " ".join(str(card.fn.value).split())
        first, _, last = full.partition(" ")
    company = ""
    if "org" in card.contents:
        org = card.org.value
        company = (org[0] if isinstance(org, list) and org else str(org or "")).strip()
    phone = _best(card.contents.get("tel", []), ("pref", "cell"))
    email = _best(card.contents.get("email", []), ("pref",))
    return [" ".join(first.split()), " ".join(last.split()), phone, email, company]


def _vcard_rows(path) -> Iterator[Row]:
    import vobject

    encoding, errors = _vcard_encoding(path)
    found = False
    with open(path, encoding=encoding, errors=errors, newline=None) as text:
        lines = (line.rstrip("\n") for line in text)
        for number, card_text, problem in _split_cards(lines):
            found = True
            if card_text is None:
                yield number, [""] * len(VCARD_FIELDS), problem
                continue
            try:
                card = vobject.readOne(card_text, allowQP=True)
                cells = card_to_cells(card)
            except Exception as exc:  # vobject raises many types for broken cards
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                yield number, [""] * len(VCARD_FIELDS), f"Card {number} cannot be read: {reason}"
                continue
            if any(cells):
                yield number, cells, None
            else:
                yield number, cells, f"Card {number} has no name, phone or email."
    if not found:
        raise ImportFileError("This vCard file holds no cards (no BEGIN:VCARD line).")
