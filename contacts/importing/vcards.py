"""vCards (2.1, 3.0, 4.0) for the readers: streamed line by line, one card at a time, linear in
the input however it is folded."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

from .errors import ImportFileError
from .readers import VCARD_FIELDS, Row

MAX_CARD_MB = 1  # a card with a photo is a few hundred KB
MAX_CARD_CHARS = MAX_CARD_MB * 1024 * 1024


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
    notes = (str(prop.value or "").strip() for prop in card.contents.get("note", []))
    note = "\n".join(filter(None, notes))
    return [" ".join(first.split()), " ".join(last.split()), phone, email, company, note]


def vcard_rows(path) -> Iterator[Row]:
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
            if any(cells[:5]):  # a NOTE alone is no contact
                yield number, cells, None
            else:
                yield number, cells, f"Card {number} has no name, phone or email."
    if not found:
        raise ImportFileError("This vCard file holds no cards (no BEGIN:VCARD line).")
