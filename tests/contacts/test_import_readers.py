"""Readers (I1): delimited text in every dialect and encoding, Excel, vCard, and hostile files."""

import csv
import datetime as dt
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.importing.errors import ImportFileError
from contacts.importing.readers import detect_format, open_table
from contacts.importing.spreadsheets import check_zip_container

ROWS = [
    ["Name", "Phone", "Email"],
    ["Zoë O’Brien", "+14155550101", "zoe@example.com"],
    ["Ann", "", "ann@x.org"],
]


def _read(path, fmt="csv", **kwargs):
    with open_table(path, fmt, **kwargs) as table:
        return table.headers, [cells for _, cells, _ in table.rows], table


def _write(tmp_path, data: bytes, name="f.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _csv_text(rows, delimiter=",", lineterminator="\r\n"):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_read_delimited_any_dialect_and_encoding(tmp_path, delimiter, encoding):
    path = _write(tmp_path, _csv_text(ROWS, delimiter).encode(encoding))
    headers, rows, table = _read(path)
    assert headers == ROWS[0]
    assert rows == ROWS[1:]
    assert table.delimiter == delimiter


def test_read_excel_unicode_text_is_utf16_with_tabs(tmp_path):
    data = "\ufeff" + _csv_text(ROWS, "\t")
    path = _write(tmp_path, data.encode("utf-16-le"), "export.txt")
    assert _read(path)[1] == ROWS[1:]


def test_read_cp1252_smart_quote_is_not_latin1_control(tmp_path):
    path = _write(tmp_path, b"Name,Email\r\nO\x92Brien,o@x.com\r\n")
    assert _read(path)[1] == [["O’Brien", "o@x.com"]]


def test_read_quoted_newlines_mixed_line_endings_trim_and_blank_rows(tmp_path):
    data = b'Name , Phone\r\n" Ann\nLee ",1\n\n , \rBob,2\r\n,,\n'
    headers, rows, _ = _read(_write(tmp_path, data))
    assert headers == ["Name", "Phone"]
    assert rows == [["Ann\nLee", "1"], ["Bob", "2"]]


def test_read_short_rows_padded_and_extra_values_reported(tmp_path):
    path = _write(tmp_path, b"a,b,c\n1\n1,2,3,4\n1,2,3,,\n")
    with open_table(path, "csv") as table:
        rows = list(table.rows)
    assert rows[0] == (2, ["1", "", ""], None)
    assert rows[1][2] == "The row has 4 values but the file has 3 columns."
    assert rows[2] == (4, ["1", "2", "3"], None)


def test_read_without_header_names_columns(tmp_path):
    headers, rows, _ = _read(
        _write(tmp_path, b"Ann,+14155550101\nBob,+14155550102\n"), has_header=False
    )
    assert headers == ["Column 1", "Column 2"]
    assert rows[0] == ["Ann", "+14155550101"]


def test_read_duplicate_and_blank_headers_made_unique(tmp_path):
    headers, _, _ = _read(_write(tmp_path, b"Phone,,Phone\n1,2,3\n"))
    assert headers == ["Phone", "Column 2", "Phone (2)"]


def test_read_blank_file_is_a_clear_error(tmp_path):
    with pytest.raises(ImportFileError, match="empty"):
        _read(_write(tmp_path, b"\r\n  \n,,\n"))


def test_read_binary_garbage_named_csv_is_rejected(tmp_path):
    garbage = bytes(range(256)) * 40
    with pytest.raises(ImportFileError, match="not text"):
        _read(_write(tmp_path, garbage, "contacts.csv"))


def test_read_ten_megabyte_single_line_is_rejected(tmp_path):
    path = _write(tmp_path, b"x" * (10 * 1024 * 1024))
    with pytest.raises(ImportFileError, match="longer than"):
        _read(path)


def test_read_too_many_columns_is_rejected(tmp_path):
    with pytest.raises(ImportFileError, match="columns"):
        _read(_write(tmp_path, ",".join(f"c{i}" for i in range(600)).encode() + b"\n"))


def test_detect_format_by_content_then_name():
    assert detect_format("x.csv", b"PK\x03\x04rest") == "xlsx"
    assert detect_format("x.txt", b"\xef\xbb\xbfBEGIN:VCARD\r\n") == "vcard"
    assert detect_format("x.vcf", b"") == "vcard"
    assert detect_format("x.tsv", b"a\tb") == "csv"


# --- Excel ----------------------------------------------------------------------------------


def _xlsx(tmp_path, sheets: dict[str, list[list]]):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    return path


def test_read_xlsx_numbers_dates_and_sheets(tmp_path):
    path = _xlsx(
        tmp_path,
        {
            "First": [
                ["Phone", "Visit", "At", "Score", "Name"],
                [
                    4155551234,
                    dt.date(2026, 3, 15),
                    dt.datetime(2026, 3, 15, 9, 30),  # noqa: DTZ001 (Excel has no zones)
                    2.5,
                    " Ann ",
                ],
                [None, None, None, None, None],
                [14155551235.0, None, None, 3, "Bob"],
            ],
            "Second": [["Email"], ["x@y.com"]],
        },
    )
    headers, rows, table = _read(path, "xlsx")
    assert headers == ["Phone", "Visit", "At", "Score", "Name"]
    assert rows[0] == ["4155551234", "2026-03-15", "2026-03-15T09:30:00", "2.5", "Ann"]
    assert rows[1][0] == "14155551235"
    assert len(rows) == 2  # the blank row is ignored
    assert table.sheets == ["First", "Second"]
    assert _read(path, "xlsx", sheet="Second")[1] == [["x@y.com"]]
    with pytest.raises(ImportFileError, match="no sheet named"):
        _read(path, "xlsx", sheet="Nope")


def test_read_xlsx_zip_bomb_rejected_before_decompressing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"<" * (1024 * 1024)
            for _ in range(64):
                member.write(chunk)
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(ImportFileError, match="zip bomb"):
        _read(path, "xlsx")


def test_read_xlsx_xml_entity_bomb_rejected(tmp_path):
    good = _xlsx(tmp_path, {"S": [["Phone"], ["4155551234"]]})
    bomb = tmp_path / "laughs.xlsx"
    entities = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    )
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = entities.encode() + (data.split(b"?>", 1)[1] if b"?>" in data else data)
            dst.writestr(item, data)
    with pytest.raises(ImportFileError, match="XML"):
        check_zip_container(bomb)
    with pytest.raises(ImportFileError, match="XML"):
        _read(bomb, "xlsx")


def test_read_damaged_xlsx_is_a_clear_error(tmp_path):
    path = _write(tmp_path, b"PK\x03\x04 not really a zip", "x.xlsx")
    with pytest.raises(ImportFileError, match="damaged"):
        _read(path, "xlsx")


# --- vCard ----------------------------------------------------------------------------------

VCARDS = (
    "\ufeffBEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BC=\r\n"
    "rgen;;;\r\nTEL;HOME:+49 30 1234567\r\nTEL;CELL;PREF:+49 151 23456789\r\n"
    "ORG:Firma GmbH\r\nEND:VCARD\r\n"
    "\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\n  Lee\r\nEMAIL;TYPE=INTERNET:ann@other.com\r\n"
    "EMAIL;TYPE=INTERNET,PREF:ann@pref.com\r\nTEL;TYPE=WORK,VOICE:(415) 555-0101\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Broken\r\nTHIS LINE IS NOT A PROPERTY\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob Stone\r\nN:Stone;Bob;;;\r\n"
    'TEL;VALUE=uri;TYPE="cell,voice":tel:+1-415-555-0102\r\nEND:VCARD\r\n'
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No End\r\n"
)


def test_read_vcard_versions_pref_order_and_broken_cards(tmp_path):
    path = _write(tmp_path, VCARDS.encode("utf-8"), "people.vcf")
    with open_table(path, "vcard") as table:
        rows = list(table.rows)
    assert table.headers == ["first_name", "last_name", "phone", "email", "company", "note"]
    assert rows[0] == (1, ["Jürgen", "Müller", "+49 151 23456789", "", "Firma GmbH", ""], None)
    assert rows[1] == (2, ["Ann", "Lee", "(415) 555-0101", "ann@pref.com", "", ""], None)
    assert rows[2][0] == 3 and rows[2][2].startswith("Card 3 cannot be read")
    assert rows[3] == (4, ["Bob", "Stone", "+1-415-555-0102", "", "", ""], None)
    assert rows[4][2] == "Card 5 has no END:VCARD line."


def test_read_vcard_without_cards_is_a_clear_error(tmp_path):
    with pytest.raises(ImportFileError, match="no cards"):
        _read(_write(tmp_path, b"hello", "x.vcf"), "vcard")


# --- property: whatever the csv module writes reads back the same -------------------------

_DIALECTS = {",": ";\t|", ";": ",\t|", "\t": ",;|", "|": ",;\t"}
_cell = st.text(
    # Control characters are left out: the writer does not quote a lone CR, and a file full of
    # them is refused as binary; embedded newlines are in.
    alphabet=st.characters(
        codec="utf-8",
        exclude_characters=",;\t|",
        exclude_categories=("Cs", "Cc"),
        include_characters="\n",
    ),
    max_size=12,
).map(str.strip)


@st.composite
def _tables(draw):
    delimiter = draw(st.sampled_from(list(_DIALECTS)))
    width = draw(st.integers(min_value=2, max_value=5))
    row = st.lists(_cell, min_size=width, max_size=width).filter(any)
    rows = draw(st.lists(row, min_size=2, max_size=8))
    return delimiter, rows


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=_tables(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    terminator=st.sampled_from(["\r\n", "\n"]),
)
def test_read_roundtrip_of_any_csv_writer_table(tmp_path, table, encoding, terminator):
    delimiter, rows = table
    text = _csv_text(rows, delimiter, terminator)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")  # cp1252 cannot hold every character; UTF-8 can
    path = tmp_path / "prop.csv"
    path.write_bytes(data)
    headers, read_rows, _ = _read(path)
    expected_headers = [c or f"Column {i}" for i, c in enumerate(rows[0], start=1)]
    if len(set(expected_headers)) == len(expected_headers):
        assert headers == expected_headers
    assert read_rows == rows[1:]


# --- vCard: quoted-printable soft line breaks, linear in the input (#13) -------------------


def test_unfold_quoted_printable_joins_soft_breaks_only_in_qp_values():
    from contacts.importing.vcards import _unfold_quoted_printable

    lines = [
        "N;ENCODING=QUOTED-PRINTABLE:M=C3=BC=",
        "ller=",
        ";J=",
        "",
        "NOTE:plain ends with =",
        "next",
        "FN;ENCODING=QUOTED-PRINTABLE:never ends=",
    ]
    assert list(_unfold_quoted_printable(lines)) == [
        "N;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J",
        "NOTE:plain ends with =",
        "next",
        "FN;ENCODING=QUOTED-PRINTABLE:never ends=",
    ]


def _qp_bomb(path, lines: int):
    # One value continued over a million soft line breaks (4 MB): adding each piece to the
    # growing line took over 120 s of CPU; the card is also over the size a card may have.
    with open(path, "w", newline="") as f:
        f.write("BEGIN:VCARD\r\nVERSION:2.1\r\nNOTE;ENCODING=QUOTED-PRINTABLE:")
        f.write("AB=\r\n" * lines)
        f.write("C\r\nFN:Big\r\nEND:VCARD\r\n")
        f.write("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nEND:VCARD\r\n")


def test_read_vcard_million_soft_line_breaks_in_bounded_cpu(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "bomb.vcf"
    _qp_bomb(path, 1_000_000)
    # Read in a child with a 10 s CPU limit (about 20 times what the linear reader needs), so
    # a quadratic reader fails the test by being killed, not by a wall-clock guess.
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (10, 10))\n"
        "from contacts.importing.readers import open_table\n"
        "with open_table(sys.argv[1], 'vcard') as t:\n"
        "    for n, cells, error in t.rows:\n"
        "        print(n, cells[0], error)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "1  Card 1 is longer than 1 MB; a card is far smaller.",
        "2 Ann None",
    ]


def test_read_vcard_oversized_card_then_card_without_end(tmp_path):
    path = tmp_path / "two.vcf"
    _qp_bomb(path, 600_000)
    with open(path, "a") as f:
        f.write("BEGIN:VCARD\r\nFN:Open\r\n")
    with open_table(path, "vcard") as table:
        rows = list(table.rows)
    assert [(n, e) for n, _, e in rows] == [
        (1, "Card 1 is longer than 1 MB; a card is far smaller."),
        (2, None),
        (3, "Card 3 has no END:VCARD line."),
    ]


def test_read_twenty_megabyte_row_of_cells_stops_at_the_record_limit(tmp_path):
    # A data row of 10 million empty cells: the csv module would make each one a string
    # (569 MB for 20 MB); reading stops once the record passes a megabyte.
    with open(tmp_path / "wide.csv", "wb") as f:
        f.write(b"Name,Phone\nAda,+14155550132\n")
        f.write(b"," * (20 * 1024 * 1024) + b"\n")
    with open_table(tmp_path / "wide.csv", "csv") as table:
        rows = table.rows
        assert next(rows)[1] == ["Ada", "+14155550132"]
        with pytest.raises(ImportFileError, match=r"Row 3 \(from line 3\) is longer than 1 MB"):
            next(rows)


def test_read_quoted_multiline_records_are_limited_as_a_whole(tmp_path):
    cell = '"' + "x\n" * 50_000 + '"'  # 100,000 characters over 50,000 lines
    text = f"Notes,Phone\n{cell},1\n" + ",".join([cell] * 11) + "\n"
    path = _write(tmp_path, text.encode())
    with open_table(path, "csv") as table:
        rows = table.rows
        assert next(rows)[1][1] == "1"
        with pytest.raises(ImportFileError, match="Row 3 .* is longer than 1 MB"):
            next(rows)


def _sparse(tmp_path, *cells):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "Phone"
    for ref in cells:
        workbook.active[ref] = "x"
    path = tmp_path / "sparse.xlsx"
    workbook.save(path)
    return path


def test_read_xlsx_sparse_grid_is_refused_from_the_sheet_xml_before_calamine(tmp_path):
    # A1 and XFD1048576 made calamine ask for 512 GiB and abort the process: refused from the
    # sheet's XML (safe to try in the test process itself).
    with pytest.raises(ImportFileError, match="cells up to column 16,384; .* at most 500"):
        _read(_sparse(tmp_path, "XFD1048576"), "xlsx")
    with pytest.raises(ImportFileError, match="spans 400,000 rows by 100 columns"):
        _read(_sparse(tmp_path, "CV400000"), "xlsx")
    headers, rows, _ = _read(_sparse(tmp_path, "C3"), "xlsx")
    assert headers == ["Phone", "Column 2", "Column 3"] and rows == [["", "", "x"]]
