"""Upserting a batch of contacts into a group (the API's POST …/contacts, A1; the rules of I4).

Duplicates are found by the rule of contacts/dedup.py: phone first, then email, against the
workspace's contacts and earlier items of the same batch. The strategy decides what happens
to a duplicate:

- ``skip``: the existing contact is kept as it is (and still added to the group);
- ``update``: it gets the item's non-empty values, metadata merged key by key, tags added;
- ``create``: a separate contact is made anyway.

Every item lands in exactly one of the counts: ``created``, ``updated``, ``duplicates`` (kept
unchanged) or ``invalid`` (reported by index with field errors; the other items still go in).
The same rules as the file import's writer (contacts/importing/writer.py), for JSON items; on
purpose, unlike the importer, each created contact gets a ContactEvent, and items may carry tags.
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.timezone import now

from accounts.models import Workspace

from . import dedup
from .dedup import Matcher
from .groups import group_add_contacts
from .models import Contact, ContactEvent, ContactGroup, GroupMembership, Tag
from .services import clean_contact_data, contact_fill

DUPLICATE_STRATEGIES = ("skip", "update", "create")
UPDATED_FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "timezone", "carrier", "line_type",
    "is_valid", "metadata",
)  # fmt: skip


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    errors: list[dict] = field(default_factory=list)
    contact_ids: list[int | None] = field(default_factory=list)


@dataclass
class _New:
    """A contact the batch will create; later items may match and merge into it."""

    data: dict
    contact: Contact | None = None


@dataclass
class _Update:
    """An existing contact the batch updates; its items' values, merged in order."""

    contact: Contact
    data: dict = field(default_factory=dict)


class DuplicateIndex:
    """The batch's matches (contacts/dedup.py's rule) and the pending updates of stored ones."""

    def __init__(self, *, workspace: Workspace, cleaned: list[dict]):
        refs = dedup.probe(
            workspace,
            phones=[c.get("phone") for c in cleaned],
            emails=[c.get("email") for c in cleaned],
        )
        contacts = Contact.objects.for_workspace(workspace).in_bulk([r.pk for r in refs])
        self.matcher = Matcher(contacts[r.pk] for r in refs)
        self.updates: dict[int, _Update] = {}

    def find(self, item: dict) -> Contact | _New | _Update | None:
        match = self.matcher.find(item.get("phone"), item.get("email"))
        if isinstance(match, Contact):
            return self.updates.get(match.pk, match)
        return match

    def updating(self, contact: Contact) -> "_Update":
        """The pending update of a stored contact, which later items merge into."""
        return self.updates.setdefault(contact.pk, _Update(contact=contact))

    def remember(self, target: Contact | _New, values: dict) -> None:
        """Later items match `target` by these values too, as they would a stored contact."""
        self.matcher.remember(target, values.get("phone"), values.get("email"))


def contacts_bulk_update(*, updates: list[_Update]) -> None:
    """Write the ``update`` rule's changes to existing contacts with a few queries."""
    stamp = now()
    for update in updates:
        contact, data = update.contact, update.data
        changes = {k: v for k, v in data.items() if k not in ("metadata", "tags")}
        changes["metadata"] = {**(contact.metadata or {}), **(data.get("metadata") or {})}
        contact_fill(contact, changes)
        contact.updated_at = stamp
    _write_updates([u.contact for u in updates], stamp)
    _tags_add(
        workspace=updates[0].contact.workspace if updates else None,
        pairs=[(u.contact.pk, name) for u in updates for name in u.data.get("tags") or []],
    )


def _write_updates(contacts: list[Contact], stamp) -> None:
    if not contacts:
        return
    if connection.vendor != "postgresql":
        Contact.objects.bulk_update(contacts, [*UPDATED_FIELDS, "updated_at"], batch_size=500)
        return
    # One statement from a JSON array: Django's bulk_update builds a CASE per field and row,
    # which takes seconds of Python for a thousand contacts.
    rows = [{"id": c.pk, **{f: getattr(c, f) for f in UPDATED_FIELDS}} for c in contacts]
    columns = ", ".join(f"{f} = v.{f}" for f in UPDATED_FIELDS)
    types = ", ".join(
        f"{f} {'boolean' if f == 'is_valid' else 'jsonb' if f == 'metadata' else 'text'}"
        for f in UPDATED_FIELDS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Contact._meta.db_table} AS c SET {columns}, updated_at = %s "
            f"FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, {types}) "
            "WHERE c.id = v.id AND c.workspace_id = %s",
            [stamp, json.dumps(rows), contacts[0].workspace_id],
        )


def _tags_add(*, workspace: Workspace | None, pairs: list[tuple[int, str]]) -> None:
    """Tag contacts: (contact id, tag name) pairs; tags are created as needed."""
    if not pairs:
        return
    names = {name for _, name in pairs}
    Tag.objects.bulk_create(
        [Tag(workspace=workspace, name=name) for name in names], ignore_conflicts=True
    )
    tags = dict(
        Tag.objects.for_workspace(workspace).filter(name__in=names).values_list("name", "pk")
    )
    through = Contact.tags.through
    through.objects.bulk_create(
        [through(contact_id=pk, tag_id=tags[name]) for pk, name in pairs],
        ignore_conflicts=True,
        batch_size=2000,
    )


def _clean_items(*, workspace: Workspace, items: list[dict], result: BatchResult) -> list:
    cleaned: list[dict | None] = []
    for index, item in enumerate(items):
        try:
            cleaned.append(clean_contact_data(workspace=workspace, data=item))
        except ValidationError as exc:
            result.invalid += 1
            result.errors.append({"index": index, "errors": exc.message_dict})
            cleaned.append(None)
    return cleaned


def contacts_bulk_create(*, workspace: Workspace, new: list[_New], source: str) -> None:
    """Insert the batch's new contacts with a few queries (not a few per contact)."""
    for item in new:
        item.contact = Contact(workspace=workspace)
        contact_fill(item.contact, {k: v for k, v in item.data.items() if k != "tags"})
    Contact.objects.bulk_create([item.contact for item in new], batch_size=500)
    _tags_add(
        workspace=workspace,
        pairs=[(item.contact.pk, name) for item in new for name in item.data.get("tags") or []],
    )
    ContactEvent.objects.bulk_create(
        ContactEvent(
            workspace=workspace, contact=item.contact, kind=ContactEvent.Kind.CREATED, detail=source
        )
        for item in new
    )


def group_contacts_upsert(
    *,
    group: ContactGroup,
    items: list[dict],
    duplicate_strategy: str = "skip",
    source: str = GroupMembership.Source.API,
) -> BatchResult:
    """Create or match each item and add the contacts to the group (see the module docstring).

    One transaction, serialised per workspace (a row lock on the workspace) so two batches
    running at once cannot both create the same new phone number.
    """
    if duplicate_strategy not in DUPLICATE_STRATEGIES:
        raise ValidationError({"duplicate_strategy": "Use skip, update or create."})
    workspace = group.workspace
    result = BatchResult()
    cleaned = _clean_items(workspace=workspace, items=items, result=result)
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        index = DuplicateIndex(workspace=workspace, cleaned=[c for c in cleaned if c])
        targets = [
            None if data is None else _place(index, data, duplicate_strategy, result)
            for data in cleaned
        ]
        unique = list({id(t): t for t in targets if t is not None}.values())
        new = [t for t in unique if isinstance(t, _New)]
        contacts_bulk_create(workspace=workspace, new=new, source=source)
        contacts_bulk_update(updates=[t for t in unique if isinstance(t, _Update)])
        for target in targets:
            contact = target if isinstance(target, Contact) else target and target.contact
            result.contact_ids.append(contact.pk if contact else None)
        group_add_contacts(
            group=group, contact_ids=[pk for pk in result.contact_ids if pk], source=source
        )
    return result


def _place(index: DuplicateIndex, data: dict, strategy: str, result: BatchResult):
    """What an item becomes: a new contact, or a match (kept, or updated); counts it."""
    match = index.find(data) if strategy != "create" else None
    if match is None:
        target = _New(data)
        result.created += 1
    elif strategy == "skip":
        target = match
        result.duplicates += 1
    else:
        if isinstance(match, Contact):
            match = index.updating(match)
        match.data = dedup.merge_values(match.data, data)
        target = match
        result.updated += 1
    if match is None or strategy != "skip":  # a skipped item adds no phone or email
        index.remember(target, data)
    return target
