"""Reading inbound email: the new text of a reply, and nothing but MailError on bad input."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.mailparse import MailError, mail_from_raw, reply_text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Yes\n\nOn Mon, 30 Nov 2026, Acme <a@b.c> wrote:\n> Hi", "Yes"),
        (
            "Yes\nOn Mon, 30 Nov 2026 at 09:00, Acme Corporation Newsletter\n<a@b.c> wrote:\n> x",
            "Yes",
        ),
        ("Oui\n\nLe lun. 30 nov. 2026 à 09:00, Acme <a@b.c> a écrit :\n> x", "Oui"),
        ("Ja\n\nAm Mo., 30. Nov. 2026 um 09:00 Uhr schrieb Acme <a@b.c>:\n> x", "Ja"),
        ("Fine.\n\n-----Original Message-----\nFrom: Acme\nSent: Monday", "Fine."),
        ("Fine.\n\n________________________________\nFrom: Acme\nSent: Monday", "Fine."),
        ("Fine.\n\nFrom: Acme <a@b.c>\nSent: Monday\nTo: Ann", "Fine."),
        ("Fine.\n-- \nAnn Lee\nCEO", "Fine."),
        ("> only quoted", ""),
        ("Line one\r\nLine two\r\n", "Line one\nLine two"),
        ("From: here on, I agree.", "From: here on, I agree."),
        ("On second thought, no.", "On second thought, no."),
    ],
)
def test_reply_text_keeps_only_the_new_text(body, expected):
    assert reply_text(body) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_raise_mail_error(raw):
    try:
        mail = mail_from_raw(raw)
    except MailError:
        return
    assert mail.from_address and mail.recipients and len(mail.text) <= 10_000


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500), st.text(max_size=200))
def test_headers_and_bodies_of_any_text_parse_or_raise_mail_error(body, subject):
    raw = f"From: a@b.c\nTo: d@e.f\nSubject: {subject}\nContent-Type: text/html\n\n{body}"
    with contextlib.suppress(MailError):
        mail_from_raw(raw.encode("utf-8", "surrogatepass"))
