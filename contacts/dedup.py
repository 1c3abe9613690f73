"""Duplicate contacts (I4, C4): the one rule for the import writer, the API upsert, the import
preview and the contact form.

- **Phone first, then email.** A contact is the same person as a stored one with the same
  normalised phone; failing that, with the same email. When several stored contacts share a
  phone or an email, the oldest (lowest id) is the match.
- **In-batch memory.** Within one batch (a batch of a file's rows, an API call's items, the
  preview's rows) a later item matches an earlier one exactly as it would a stored contact:
  `Matcher.remember`.
- **The probe.** A batch's stored matches are found with one query (`probe`), never one per
  item; on PostgreSQL inside a transaction it is the index-probe loader the import needs at
  200,000 rows.
- **The update rule** (strategy ``update``): non-empty values win, metadata merges key by key,
  tags add up (`merge_values` on field dicts, `contact_merge` on a stored contact).

Differences that stay on purpose, each also said where it lives:
- The importer writes no per-contact ContactEvent: the job is the record of an import (an
  event per row would double its writes). The API upsert and the form write one per contact.
- The contact form refuses a duplicate (naming it) instead of skipping or updating it, and
  checks only a phone or email that changed, so a contact an import duplicated on purpose
  (strategy ``create``) can still be edited.
- The preview only says what each shown row will be (new, existing, or a repeat of a row
  above); it writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q

from .models import Contact

UPDATABLE = (
    "first_name", "last_name", "email", "phone", "company", "timezone", "carrier", "line_type",
)  # fmt: skip
EMPTY = ("", None, {}, [])


@dataclass(slots=True)
class Ref:
    """A stored contact, as much of it as matching needs."""

    pk: int
    phone: str
    email: str


def probe(workspace, *, phones: Iterable[str] = (), emails: Iterable[str] = ()) -> list[Ref]:
    """Stored contacts of the workspace with one of these phones or emails, oldest first."""
    phones = {p for p in phones if p}
    emails = {e for e in emails if e}
    if not phones and not emails:
        return []
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        return _probe_pg(workspace.pk, phones, emails)
    query = Q(phone__in=phones) | Q(email__in=emails)
    found = Contact.objects.for_workspace(workspace).filter(query).order_by("pk")
    return [Ref(*row) for row in found.values_list("pk", "phone", "email")]


def _probe_pg(workspace_id: int, phones: set[str], emails: set[str]) -> list[Ref]:
    # One index probe per key, whatever the statistics say: with a plain `= ANY(...)` the
    # planner may prefer scanning all of the workspace's contacts or, with bitmap scans
    # allowed, the trigram GIN index on phone; both are ~10x slower at scale.
    # OFFSET 0 keeps each probe a separate parameterised scan of (workspace_id, column).
    # The workspace is compared through a scalar subquery: given the value itself, the
    # planner estimates from that workspace's statistics, and for a workspace they do not
    # know (a new tenant in a big table, before autoanalyze notices it) it expects one row,
    # probes another index by workspace alone (contact_ws_name, then) and filters every
    # contact of the workspace per key (20,000 rows into a new workspace beside 90,000
    # contacts: 189 s, not 5.5 s).
    # The keys travel as one newline-separated string (psycopg adapts a list item by
    # item, slowly); cleaned phones and emails never hold a newline.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")  # (needs the transaction)
        cursor.execute(*probe_pg_query(workspace_id, phones, emails))
        found = {row[0]: row for row in cursor.fetchall()}
        cursor.execute("SET LOCAL enable_bitmapscan TO DEFAULT")
    return [Ref(*found[pk]) for pk in sorted(found)]


def probe_pg_query(workspace_id: int, phones: set[str], emails: set[str]) -> tuple[str, list]:
    """The PostgreSQL probe's SQL and parameters (a contact found twice comes once)."""
    table, parts, params = Contact._meta.db_table, [], []
    for column, keys in (("phone", phones), ("email", emails)):
        if keys:
            parts.append(
                "SELECT c.id, c.phone, c.email"
                " FROM unnest(string_to_array(%s, E'\\n')) AS k(v) CROSS JOIN"
                f" LATERAL (SELECT id, phone, email FROM {table}"  # noqa: S608
                f" WHERE workspace_id = (SELECT %s::bigint) AND {column} = k.v OFFSET 0) AS c"
            )
            params += ["\n".join(keys), workspace_id]
    return " UNION ".join(parts), params


class Matcher:
    """Targets (stored contacts, or what a batch will create or update) by phone and email.

    Fed oldest first, so the oldest stored contact wins; `find` is phone first, then email.
    """

    __slots__ = ("by_email", "by_phone")

    def __init__(self, found: Iterable[Any] = ()):
        self.by_phone: dict[str, Any] = {}
        self.by_email: dict[str, Any] = {}
        for contact in found:
            self.remember(contact, contact.phone, contact.email)

    def find(self, phone: str | None, email: str | None) -> Any | None:
        match = self.by_phone.get(phone) if phone else None
        if match is None and email:
            match = self.by_email.get(email)
        return match

    def remember(self, target: Any, phone: str | None, email: str | None) -> None:
        """Later items match `target` by these values too, as they would a stored contact."""
        if phone:
            self.by_phone.setdefault(phone, target)
        if email:
            self.by_email.setdefault(email, target)


def merge_values(current: dict, new: dict) -> dict:
    """The update rule on field dicts: non-empty values win, metadata merges, tags add up."""
    result = {**current, **{k: v for k, v in new.items() if v not in EMPTY}}
    result["metadata"] = {**(current.get("metadata") or {}), **(new.get("metadata") or {})}
    if "tags" in current or "tags" in new:
        result["tags"] = sorted(set(current.get("tags") or []) | set(new.get("tags") or []))
    return result


def contact_merge(contact: Contact, values: dict) -> None:
    """The update rule on a stored contact (unsaved): its fields get the non-empty values,
    its metadata the keys of the new metadata."""
    for name in UPDATABLE:
        if values.get(name) not in EMPTY:
            setattr(contact, name, values[name])
    if values.get("metadata"):
        contact.metadata = {**(contact.metadata or {}), **values["metadata"]}


def contact_duplicate(
    *, workspace, phone: str = "", email: str = "", exclude_id: int | None = None
) -> Contact | None:
    """The stored contact a single contact with this (normalised) phone or email duplicates:
    the oldest with the phone, else the oldest with the email (the contact form's check)."""
    email = (email or "").lower()
    refs = [r for r in probe(workspace, phones=[phone], emails=[email]) if r.pk != exclude_id]
    match = Matcher(refs).find(phone, email)
    if match is None:
        return None
    return Contact.objects.for_workspace(workspace).filter(pk=match.pk).first()
