"""CSV downloads: one rule against formula injection, and a writer that streams.

Every cell of every CSV the app writes goes through `csv_cell`: a cell a spreadsheet would
run as a formula (OWASP "CSV injection") gets a leading apostrophe, so it is shown, never
run. The one exemption is an E.164 phone number, `+` and digits only, which must come back
unchanged when the file is imported again; digits alone cannot call anything.
"""

import csv
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from typing import IO

from django.http import StreamingHttpResponse

# What a spreadsheet reads as the start of a formula. LF too: some spreadsheet apps strip
# leading whitespace before they look at the rest.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_E164 = re.compile(r"\+[0-9]{1,15}")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with a byte order mark


def neutralise(text: str) -> str:
    """The text as a spreadsheet must receive it: shown, never run as a formula."""
    if text.startswith(FORMULA_START) and not _E164.fullmatch(text):
        return "'" + text
    return text


def csv_cell(value) -> str:
    """Any value as the text of a cell, neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(str(value))


class _Echo:
    """A file that hands back what is written, for csv.writer to format one line at a time."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable], *, bom: bool = True) -> Iterator[str]:
    """The rows as CSV text, line by line (every cell through csv_cell)."""
    writer = csv.writer(_Echo())
    if bom:
        yield BOM
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_write(rows: Iterable[Iterable], fileobj: IO[str], *, bom: bool = True) -> int:
    """Write the rows to an open text file (opened with newline=""); returns how many."""
    if bom:
        fileobj.write(BOM)
    count = 0
    for line in csv_lines(rows, bom=False):
        fileobj.write(line)
        count += 1
    return count


def csv_response(rows: Iterable[Iterable], *, filename: str) -> StreamingHttpResponse:
    """A download of the rows, streamed: memory does not grow with the file."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
