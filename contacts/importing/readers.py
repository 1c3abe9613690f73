"""Readers: every import format streams the same rows (I1).

`open_table(path, fmt, has_header=..., sheet=...)` is a context manager giving a `Table`: its
column headers and an iterator of `(row_number, cells, error)` where `row_number` is the record's
number in the file (the header is 1), `cells` a list of trimmed strings as long as the headers,
and `error` a message when the record itself cannot be read (a broken vCard) or None.
Entirely blank records are skipped and never yielded.

Delimited text is read here; spreadsheets in spreadsheets.py, vCards in vcards.py. None of them
needs Django: the limited child process that reads uploads imports them alone.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
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
SPREADSHEET_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
VCARD_EXTENSIONS = {".vcf", ".vcard"}
VCARD_FIELDS = ["first_name", "last_name", "phone", "email", "company", "note"]
# What each vCard column becomes: the NOTE is kept as the custom field `note`.
VCARD_MAPPING = {**{name: name for name in VCARD_FIELDS[:-1]}, "note": "metadata:note"}
# Files people pick by mistake, by their first bytes and then their name: refused at upload
# with what they are, rather than read as text or as a damaged spreadsheet.
_OTHER_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_OTHER_SUFFIXES = {
    ".pdf": "a PDF document", ".doc": "a Word document", ".docx": "a Word document",
    ".odt": "a text document", ".rtf": "an RTF document", ".pages": "a Pages document",
    ".numbers": "a Numbers spreadsheet", ".key": "a Keynote presentation",
    ".ppt": "a PowerPoint presentation", ".pptx": "a PowerPoint presentation",
    ".zip": "a zip archive", ".gz": "a gzip archive", ".rar": "a RAR archive",
    ".7z": "a 7-Zip archive", ".png": "a PNG image", ".jpg": "a JPEG image",
    ".jpeg": "a JPEG image", ".gif": "a GIF image", ".heic": "an image", ".webp": "an image",
    ".json": "a JSON file", ".xml": "an XML file", ".html": "a web page", ".htm": "a web page",
}  # fmt: skip

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
    """ "csv", "xlsx" or "vcard", from the content first and the file name second. A file
    that is something else (a PDF, a Word document, an image…): ImportFileError."""
    suffix = Path(filename).suffix.lower()
    what = next((name for magic, name in _OTHER_MAGIC if head.startswith(magic)), None)
    what = what or _OTHER_SUFFIXES.get(suffix)
    if what:
        raise ImportFileError(
            f"This file is {what}, not a list of contacts. Export the contacts as CSV, Excel "
            "(.xlsx, .xls, .ods) or vCard (.vcf) and upload that, or paste the rows."
        )
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xlsx"
    text = head[:4096].lstrip(b"\xef\xbb\xbf \r\n\t").upper()
    if text.startswith(b"BEGIN:VCARD"):
        return "vcard"
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
        from .spreadsheets import open_spreadsheet

        yield open_spreadsheet(path, has_header=has_header, sheet=sheet)
    elif fmt == "vcard":
        from .vcards import vcard_rows

        yield Table(headers=list(VCARD_FIELDS), rows=vcard_rows(path), encoding="")
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
