"""Column mapping: guess it from the headers, and check one a user or API client sent (I2).

A mapping is `{"<column header>": "<field>"}`; the field is a contact field, `metadata:<key>`,
or "" to ignore the column. A column the mapping leaves out fills the contact field it is
named like (`company`, `Company`) when no other column does, and otherwise becomes metadata
under its header in snake_case.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import ImportFileError

FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split into first and last)",
    "phone": "Phone",
    "email": "Email",
    "company": "Company",
    "timezone": "Timezone",
    "carrier": "Carrier",
    "line_type": "Line type",
}
METADATA_PREFIX = "metadata:"
_KEY = re.compile(r"^[a-z0-9_]{1,64}$")

_SYNONYMS: dict[str, set[str]] = {
    "email": {"email", "emailaddress", "mail", "emailadresse", "mailadresse", "courriel", "correo"},
    "phone": {
        "phone",
        "phonenumber",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
        "cellnumber",
        "telephone",
        "telephonenumber",
        "tel",
        "telefon",
        "telefonnummer",
        "handy",
        "mobil",
        "mobilnummer",
        "msisdn",
        "smsnumber",
        "number",
        "contactnumber",
        "telefono",
        "portable",
        "mobiletelephone",
        "primaryphone",
    },  # fmt: skip
    "first_name": {"firstname", "first", "givenname", "forename", "vorname", "prenom", "nombre"},
    "last_name": {"lastname", "last", "surname", "familyname", "nachname", "nom", "apellido"},
    "full_name": {"name", "fullname", "contactname", "displayname", "contact", "person"},
    "company": {
        "company",
        "companyname",
        "organization",
        "organisation",
        "org",
        "firma",
        "business",
        "employer",
        "unternehmen",
        "entreprise",
        "account",
        "accountname",
    },  # fmt: skip
    "timezone": {"timezone", "tz", "zeitzone"},
    "carrier": {"carrier", "operator", "network"},
    "line_type": {"linetype", "phonetype", "numbertype"},
}
_GUESS = {syn: field for field, syns in _SYNONYMS.items() for syn in syns}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def header_key(header: str) -> str:
    """Case, spaces and punctuation removed: "E-mail Address" -> "emailaddress"."""
    return re.sub(r"[^a-z0-9]", "", _fold(header))


def metadata_key(header: str) -> str:
    """A header in snake_case, usable as a template variable ("Appointment Date" -> ...)."""
    key = re.sub(r"[^a-z0-9]+", "_", _fold(header)).strip("_")[:64].strip("_")
    return key or "field"


_EMAIL_LIKE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")


def value_kind(value: str) -> str:
    """ "email" or "phone" when a cell looks like one (to tell a row of data from a header
    row, and to guess a headerless column), else ""."""
    value = value.strip()
    if _EMAIL_LIKE.match(value):
        return "email"
    if _PHONE_LIKE.match(value) and sum(c.isdigit() for c in value) >= 7:
        return "phone"
    return ""


def mapping_guess(headers: list[str], samples: list[list[str]] | None = None) -> dict[str, str]:
    """The guessed mapping: known synonyms; then a column whose sample values are all emails
    or all phone numbers (a headerless file's "Column 2"); every other column as metadata."""
    by_values = {}
    for header, values in zip(headers, samples or [], strict=False):
        kinds = {value_kind(v) for v in values}
        if len(kinds) == 1 and "" not in kinds:
            by_values[header] = kinds.pop()
    keys = {h: header_key(h) for h in headers}
    has_last = any(_GUESS.get(k) == "last_name" for k in keys.values())
    mapping: dict[str, str] = {}
    used: set[str] = set()
    meta_used: set[str] = set()
    for header in headers:
        field = _GUESS.get(keys[header])
        if field == "full_name" and has_last:
            field = "first_name"
        if (
            field is None
            and header in by_values
            and not any(_GUESS.get(k) == by_values[header] for k in keys.values())
        ):
            field = by_values[header]
        if field and field not in used:
            mapping[header] = field
            used.add(field)
            continue
        key = metadata_key(header)
        if key in FIELDS or key in meta_used:
            key = _free_key(key, meta_used)
        meta_used.add(key)
        mapping[header] = METADATA_PREFIX + key
    return mapping


def _name_clash(field: str, claimed: set[str]) -> bool:
    """Would filling `field` clash with the fields already filled (itself, or a full name
    beside first/last names)?"""
    if field in claimed:
        return True
    if field == "full_name":
        return bool(claimed & {"first_name", "last_name"})
    return field in ("first_name", "last_name") and "full_name" in claimed


def _free_key(key: str, used: set[str]) -> str:
    n = 2
    while f"{key}_{n}" in used or f"{key}_{n}" in FIELDS:
        n += 1
    return f"{key}_{n}"


@dataclass(frozen=True)
class Plan:
    """Which column feeds which field: (column index, field) and (column index, metadata key)."""

    fields: tuple[tuple[int, str], ...]
    metadata: tuple[tuple[int, str], ...]
    mapping: dict[str, str]


def mapping_plan(mapping: dict[str, str] | None, headers: list[str]) -> Plan:
    """Check a mapping against the file's headers; ImportFileError says what is wrong."""
    if mapping is None:
        mapping = mapping_guess(headers)
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ImportFileError('The mapping must be a JSON object like {"Column": "field"}.')
    missing = [h for h in mapping if h not in headers]
    if missing:
        names = ", ".join(f"“{h}”" for h in missing)
        raise ImportFileError(
            f"The mapping names {'a column' if len(missing) == 1 else 'columns'} the file does not "
            f"have: {names}. The file's columns are: {', '.join(headers)}."
        )
    full: dict[str, str] = {}
    meta_used: set[str] = set()
    claimed = {target.strip() for target in mapping.values()}
    for header in headers:
        target = mapping.get(header)
        if target is None:  # left out: the field it is named like, if free; else metadata
            key = metadata_key(header)
            if key in FIELDS and not _name_clash(key, claimed):
                target = key
                claimed.add(key)
            else:
                target = METADATA_PREFIX + (key if key not in FIELDS else _free_key(key, meta_used))
        full[header] = target.strip()
    fields, metadata, seen = [], [], {}
    for index, header in enumerate(headers):
        target = full[header]
        if not target:
            continue
        if target.startswith(METADATA_PREFIX):
            key = target[len(METADATA_PREFIX) :]
            if not _KEY.match(key):
                key = metadata_key(key)
            if key in FIELDS:
                raise ImportFileError(
                    f"Column “{header}”: a custom field cannot be named “{key}” (a contact field)."
                )
            target = METADATA_PREFIX + key
            full[header] = target
        elif target not in FIELDS:
            raise ImportFileError(
                f"Column “{header}” is mapped to “{target}”, which is not a contact field. "
                f"Use one of {', '.join(FIELDS)}, “metadata:<name>”, or “” to ignore it."
            )
        if target in seen:
            raise ImportFileError(
                f"Columns “{seen[target]}” and “{header}” are both mapped to "
                f"{FIELDS.get(target, target)}; map each field from one column only."
            )
        seen[target] = header
        if target.startswith(METADATA_PREFIX):
            metadata.append((index, target[len(METADATA_PREFIX) :]))
            meta_used.add(target[len(METADATA_PREFIX) :])
        else:
            fields.append((index, target))
    targets = {f for _, f in fields}
    if "full_name" in targets and targets & {"first_name", "last_name"}:
        raise ImportFileError(
            "Map either one full-name column or first/last name columns, not both."
        )
    if not targets & {"phone", "email"}:
        raise ImportFileError("Map at least one column to Phone or Email.")
    return Plan(fields=tuple(fields), metadata=tuple(metadata), mapping=full)
