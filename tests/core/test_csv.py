import csv
import datetime as dt
import io

import pytest

from core.csv import csv_cell, csv_lines, csv_response, csv_write, neutralise

# (value a contact supplied, the cell a spreadsheet must receive)
GOLDEN = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
    ("=2+5+cmd|' /C calc'!A0", "'=2+5+cmd|' /C calc'!A0"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("-5", "'-5"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("\n=1", "'\n=1"),
    ("+14155550134", "+14155550134"),
    ("+33612345678", "+33612345678"),
    ("+1 415 555 0134", "'+1 415 555 0134"),
    ("+14155550134\n", "'+14155550134\n"),
    ("+1234567890123456", "'+1234567890123456"),  # longer than E.164 allows
    ("+١٢٣", "'+١٢٣"),  # digits, but not ASCII ones
    ("+1415abc", "'+1415abc"),
    ("plain text", "plain text"),
    ("a=b", "a=b"),
    ("", ""),
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
]


@pytest.mark.parametrize(("value", "expected"), GOLDEN)
def test_neutralise_golden_payloads(value, expected):
    assert neutralise(value) == expected
    assert neutralise(expected) == expected  # neutralising twice changes nothing


def test_csv_cell_formats_values_then_neutralises():
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true" and csv_cell(False) == "false"
    assert csv_cell(12) == "12" and csv_cell(-3) == "'-3"
    stamp = dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC)
    assert csv_cell(stamp) == "2026-03-15T09:30:00+00:00"
    assert csv_cell(dt.date(2026, 3, 15)) == "2026-03-15"
    assert csv_cell({"k": "é"}) == '{"k": "é"}'
    assert csv_cell(["=x"]) == '["=x"]'


def test_csv_lines_quote_and_round_trip():
    rows = [["name", "note"], ["Ada", 'say "hi",\nthen =1'], ["=cmd", "+14155550134"]]
    text = "".join(csv_lines(rows))
    assert text.startswith("\ufeff")
    read = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert read == [["name", "note"], ["Ada", 'say "hi",\nthen =1'], ["'=cmd", "+14155550134"]]
    assert not "".join(csv_lines([["a"]], bom=False)).startswith("\ufeff")


def test_csv_write_counts_rows_and_writes_the_bom_once():
    out = io.StringIO(newline="")
    assert csv_write(iter([["a"], ["b"]]), out) == 2
    assert out.getvalue() == "\ufeffa\r\nb\r\n"
    empty = io.StringIO(newline="")
    assert csv_write([], empty, bom=False) == 0 and empty.getvalue() == ""


def test_csv_response_streams_an_attachment():
    response = csv_response(iter([["x"], ["@y"]]), filename="out.csv")
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="out.csv"'
    assert b"".join(response.streaming_content).decode() == "\ufeffx\r\n'@y\r\n"
