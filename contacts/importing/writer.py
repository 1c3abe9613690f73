"""The batch writer: dedup (I4) and the database writes of one batch of rows.

A batch is cleaned, matched against existing contacts by the rule of contacts/dedup.py (one
probe per batch, never one per row; phone first, then email; later rows match earlier ones),
then written: new contacts with COPY on PostgreSQL (bulk_create elsewhere), updates with
bulk_update, memberships for every created/updated/skipped contact. The caller wraps each batch
in a transaction together with the job's progress, so a batch is written whole or not at all.

On purpose, unlike the API upsert and the contact form, an import writes no per-contact
ContactEvent: the job is the record of an import (an event per row would double its writes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.db import connection
from django.utils.timezone import now

from contacts import dedup
from contacts.dedup import Matcher
from contacts.models import Contact, ContactGroup, GroupMembership

from .readers import Row
from .validation import RowCleaner, RowInvalid

COPY_COLUMNS = (
    "id", "workspace_id", "first_name", "last_name", "email", "phone", "company", "timezone",
    "carrier", "line_type", "is_valid", "status", "opt_out_reason", "metadata", "created_at",
    "updated_at",
)  # fmt: skip


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, list[str], str]] = field(default_factory=list)


@dataclass
class _Pending:
    values: dict
    text: str = ""  # the row's COPY text from clean(), "" when it must be (re)made
    contact_id: int | None = None


class ContactWriter:
    """Writes batches of rows into one workspace and group with one duplicate strategy."""

    def __init__(
        self, *, workspace, group: ContactGroup, strategy: str, cleaner: RowCleaner, since=None
    ):
        self.workspace = workspace
        # When the import started: a stored contact changed since then was created or updated
        # by it already, so a later row matching it is counted as a duplicate, not one more
        # update (counts count contacts, not rows: #14).
        self.since = since
        self.group = group
        self.strategy = strategy
        self.cleaner = cleaner
        self.use_copy = connection.vendor == "postgresql"
        self._sequence: str | None = None  # the contacts id sequence, looked up once
        self._mostly_new = True  # did the last batch create most of its rows?
        # Decided at the first batch: the workspace held no contacts, so only what this import
        # wrote can match, and only keys it has seen are probed for (None: not decided yet).
        self._seen: SeenKeys | None | bool = None
        self._analyzed = False

    def clean(
        self, rows: list[Row]
    ) -> tuple[list[tuple[int, dict, str]], list[tuple[int, list[str], str]]]:
        """Valid rows as (row number, values, COPY text), invalid ones with their reason.

        The runner cleans the next batch while the previous one is being written, and the
        writer's own time is what limits a first import: while batches are mostly new contacts,
        their COPY text is made here rather than in write_clean(). (A re-import, all
        duplicates, would only waste it.)
        """
        render = self.use_copy and self._mostly_new
        valid, invalid = [], []
        for number, cells, error in rows:
            if error is None:
                try:
                    values = self.cleaner.clean(cells)
                    valid.append((number, values, _copy_text(values) if render else ""))
                    continue
                except RowInvalid as exc:
                    error = str(exc)
            # Kept to be stored, where PostgreSQL's text and jsonb cannot hold NUL; the binary
            # file check only reads a file's head, and the cleaner strips NUL from valid rows.
            if "\x00" in error or any("\x00" in cell for cell in cells):
                cells = [cell.replace("\x00", "") for cell in cells]
                error = error.replace("\x00", "")
            invalid.append((number, cells, error))
        return valid, invalid

    def write(self, rows: list[Row]) -> BatchResult:
        return self.write_clean(*self.clean(rows))

    def write_clean(self, valid, invalid) -> BatchResult:
        """The database half of a batch (clean() is pure and can run elsewhere)."""
        result = BatchResult(invalid=invalid)
        new: list[_Pending] = []
        matched_existing: dict[int, Contact] = {}
        changed: dict[int, Contact] = {}
        if self.strategy == "create":
            new = [_Pending(values, text) for _, values, text in valid]
        else:
            matcher = self._existing(valid)
            for _, values, text in valid:
                target = matcher.find(values.get("phone"), values.get("email"))
                if target is None:
                    target = _Pending(values, text)
                    new.append(target)
                elif self.strategy == "skip":
                    result.duplicates += 1
                else:
                    if self._counted(target, changed):
                        result.duplicates += 1  # merged into a contact counted already
                    else:
                        result.updated += 1
                    self._merge(target, values, changed)
                if not isinstance(target, _Pending):
                    matched_existing[target.pk] = target
                # later rows of the file match this one, as they would an existing contact
                matcher.remember(target, _current(target, "phone"), _current(target, "email"))
        result.created = len(new)
        self._mostly_new = 2 * len(new) >= len(valid)
        self._insert(new)
        self._analyze_once(len(new))
        if changed:
            stamp = now()
            for contact in changed.values():
                contact.updated_at = stamp
            Contact.objects.bulk_update(
                list(changed.values()), [*dedup.UPDATABLE, "metadata", "updated_at"], batch_size=500
            )
        self._add_members(new, matched_existing)
        return result

    def _existing(self, valid) -> Matcher:
        """Contacts sharing a phone or an email with the batch: looked up per batch, not per row.

        Into a workspace that held no contacts when the import began (its first batch found
        none), a stored match can only be a contact an earlier batch wrote: only the keys
        SeenKeys says earlier rows had are probed, usually none. (A contact written into the
        same workspace meanwhile by someone else is not looked for; the probe itself cannot
        see one that is not committed yet either.)
        """
        phones = [v.get("phone") for _, v, _ in valid]
        emails = [v.get("email") for _, v, _ in valid]
        if self._seen is None:
            empty = not Contact.objects.for_workspace(self.workspace).exists()
            self._seen = SeenKeys() if empty else False
        if self._seen:
            seen = self._seen
            keys = (phones, emails)
            phones, emails = ([k for k in column if k and k in seen] for column in keys)
            for column in keys:
                seen.update(column)
            if not phones and not emails:
                return Matcher()
        found = dedup.probe(self.workspace, phones=phones, emails=emails)
        if self.strategy == "update" and found:
            full = Contact.objects.for_workspace(self.workspace).in_bulk([r.pk for r in found])
            found = [full[r.pk] for r in found]
        return Matcher(found)

    def _counted(self, target, changed: dict) -> bool:
        """Is this match a contact the import has counted already: one it creates (a row above),
        one this batch updates already, or one it created or updated in an earlier batch?"""
        if isinstance(target, _Pending) or target.pk in changed:
            return True
        return self.since is not None and target.updated_at >= self.since

    @staticmethod
    def _merge(target, values: dict, changed: dict) -> None:
        """The update rule (contacts/dedup.py), on a row still to be created or a stored contact."""
        if isinstance(target, _Pending):
            target.values = dedup.merge_values(target.values, values)
            target.text = ""
            return
        dedup.contact_merge(target, values)
        changed[target.pk] = target

    def _insert(self, new: list[_Pending]) -> None:
        if not new:
            return
        stamp = now()
        if self.use_copy:
            table = Contact._meta.db_table
            with connection.cursor() as cursor:
                if self._sequence is None:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                    self._sequence = cursor.fetchone()[0]
                cursor.execute(  # one text value: far cheaper to fetch than 2,000 rows
                    "SELECT string_agg(nextval(%s::regclass)::text, ',')"
                    " FROM generate_series(1, %s)",
                    [self._sequence, len(new)],
                )
                ids = [int(pk) for pk in cursor.fetchone()[0].split(",")]
                columns = ", ".join(COPY_COLUMNS)
                ws, stamp_text = str(self.workspace.pk), stamp.isoformat()
                lines = []
                for pending, pk in zip(new, ids, strict=True):
                    pending.contact_id = pk
                    text = pending.text or _copy_text(pending.values)
                    lines.append(f"{pk}\t{ws}\t{text}\t{stamp_text}\t{stamp_text}\n")
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write("".join(lines))
            return
        objs = [
            Contact(workspace=self.workspace, created_at=stamp, **_model_values(p.values))
            for p in new
        ]
        Contact.objects.bulk_create(objs, batch_size=500)
        for pending, obj in zip(new, objs, strict=True):
            pending.contact_id = obj.pk

    def _analyze_once(self, written: int) -> None:
        """After the first batch that writes contacts: when the table's statistics know fewer
        contacts than it just wrote (an empty or new table), ANALYZE it, so the probes of the
        next batches are planned for a table that holds contacts (see dedup._probe_pg)."""
        if self._analyzed or not written or not self.use_copy:
            return
        self._analyzed = True
        table = Contact._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
            if cursor.fetchone()[0] < written:
                cursor.execute(f"ANALYZE {table}")

    def _add_members(self, new: list[_Pending], matched: dict) -> None:
        stamp = now()
        source = GroupMembership.Source.IMPORT
        new_ids = [p.contact_id for p in new]
        if new_ids and self.use_copy:
            table = GroupMembership._meta.db_table
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    f"COPY {table} (group_id, contact_id, source, created_at) FROM STDIN"
                ) as copy,
            ):
                tail = f"\t{source}\t{stamp.isoformat()}\n"
                copy.write("".join(f"{self.group.pk}\t{pk}{tail}" for pk in new_ids))
        elif new_ids:
            GroupMembership.objects.bulk_create(
                [
                    GroupMembership(
                        group=self.group, contact_id=pk, source=source, created_at=stamp
                    )
                    for pk in new_ids
                ],
                batch_size=500,
            )
        if matched:
            if self.use_copy:
                table = GroupMembership._meta.db_table
                with connection.cursor() as cursor:
                    cursor.execute(  # one probe per contact, as in _existing_pg
                        "SELECT m.contact_id"
                        " FROM unnest(string_to_array(%s, ',')::bigint[]) AS k(v) CROSS JOIN"
                        f" LATERAL (SELECT contact_id FROM {table}"  # noqa: S608
                        " WHERE group_id = %s AND contact_id = k.v OFFSET 0) AS m",
                        [",".join(map(str, matched)), self.group.pk],
                    )
                    already = {row[0] for row in cursor.fetchall()}
            else:
                memberships = GroupMembership.objects.filter(
                    group=self.group, contact_id__in=list(matched)
                )
                already = set(memberships.values_list("contact_id", flat=True))
            missing = [pk for pk in matched if pk not in already]
            GroupMembership.objects.bulk_create(
                [
                    GroupMembership(
                        group=self.group, contact_id=pk, source=source, created_at=stamp
                    )
                    for pk in missing
                ],
                batch_size=500,
                ignore_conflicts=True,
            )


class SeenKeys:
    """The phones and emails an import has written, in 8 MiB whatever the file's size (a
    two-hash Bloom filter): a key it says is new is certainly new; one it says was seen may
    not have been (about 0.3% of keys at two million), and is probed for as before."""

    BITS = 1 << 26

    __slots__ = ("bits",)

    def __init__(self):
        self.bits = bytearray(self.BITS >> 3)

    @classmethod
    def _slots(cls, key: str) -> tuple[int, int]:
        h = hash(key)  # 64 bits, salted per process: this filter lives in one writer
        return h & (cls.BITS - 1), (h >> 26) & (cls.BITS - 1)

    def __contains__(self, key: str) -> bool:
        a, b = self._slots(key)
        bits = self.bits
        return bool(bits[a >> 3] & (1 << (a & 7))) and bool(bits[b >> 3] & (1 << (b & 7)))

    def update(self, keys) -> None:
        bits = self.bits
        for key in keys:
            if key:
                a, b = self._slots(key)
                bits[a >> 3] |= 1 << (a & 7)
                bits[b >> 3] |= 1 << (b & 7)


_COPY_TEXT_FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "timezone", "carrier", "line_type",
)  # fmt: skip
# COPY text format: backslash, tab, newline and CR escaped; NUL is our field separator.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\t"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps() makes one per call


def _copy_text(values: dict) -> str:
    """A new contact's COPY text from first_name to metadata (COPY_COLUMNS less the id and
    workspace before, and the timestamps after).

    Escaped here, once per row: psycopg's per-value adaptation would be most of the client's
    cost of a COPY. Values never hold NUL (the cleaner strips it), so NUL separates the fields
    until they become tabs; translate() escapes the rare text that needs it (it is slow).
    """
    metadata = _json(values.get("metadata") or {})
    return copy_fields(
        [*(values.get(n, "") for n in _COPY_TEXT_FIELDS), "t", "active", "", metadata]
    )


def copy_fields(fields: list[str]) -> str:
    """Fields (none holding NUL) as tab-separated COPY text, escaped."""
    text = "\x00".join(fields)
    if _COPY_SPECIAL.search(text) is None:
        return text.replace("\x00", "\t")
    return text.translate(_COPY_ESCAPES)


def _current(target, name: str) -> str:
    if isinstance(target, _Pending):
        return target.values.get(name, "")
    return getattr(target, name, "")


def _model_values(values: dict) -> dict:
    out = {name: values.get(name, "") for name in dedup.UPDATABLE}
    out["metadata"] = values.get("metadata") or {}
    return out
