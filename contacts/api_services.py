"""Adding a batch of contacts to a group with duplicate handling (A1, the rules of I4).

Duplicates are found by phone OR email (phone first), against the workspace's contacts and
earlier items of the same batch. The strategy decides what happens to a duplicate:

- ``skip``: the existing contact is kept as it is (and still added to the group);
- ``update``: it gets the item's non-empty values, metadata merged key by key, tags added;
- ``create``: a separate contact is made anyway.

Every item lands in exactly one of the counts: ``created``, ``updated``, ``duplicates`` (kept
unchanged) or ``invalid`` (reported by index with field errors; the other items still go in).
The same rules as the file import's writer (contacts/importing/writer.py), for JSON items.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Workspace

from .models import Contact, ContactEvent, ContactGroup, GroupMembership, Tag
from .services import _apply, clean_contact_data, contact_update, group_add_contacts

DUPLICATE_STRATEGIES = ("skip", "update", "create")


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


def merged(current: dict, data: dict) -> dict:
    """The ``update`` rule on field dicts: non-empty values win, metadata merges, tags add up."""
    result = {**current, **{k: v for k, v in data.items() if v not in ("", None, {}, [])}}
    result["metadata"] = {**(current.get("metadata") or {}), **(data.get("metadata") or {})}
    result["tags"] = sorted(set(current.get("tags") or []) | set(data.get("tags") or []))
    return result


class DuplicateIndex:
    """The workspace's contacts (and the batch's new ones) by phone and by email."""

    def __init__(self, *, workspace: Workspace, cleaned: list[dict]):
        phones = {c["phone"] for c in cleaned if c.get("phone")}
        emails = {c["email"] for c in cleaned if c.get("email")}
        self.by_phone: dict[str, Contact | _New] = {}
        self.by_email: dict[str, Contact | _New] = {}
        existing = Contact.objects.for_workspace(workspace).order_by("pk")
        for contact in existing.filter(phone__in=phones) if phones else ():
            self.by_phone.setdefault(contact.phone, contact)
        for contact in existing.filter(email__in=emails) if emails else ():
            self.by_email.setdefault(contact.email, contact)

    def find(self, item: dict) -> Contact | _New | None:
        phone, email = item.get("phone") or "", item.get("email") or ""
        return self.by_phone.get(phone) or self.by_email.get(email)

    def remember(self, target: Contact | _New) -> None:
        values = target.data if isinstance(target, _New) else target.__dict__
        if values.get("phone"):
            self.by_phone.setdefault(values["phone"], target)
        if values.get("email"):
            self.by_email.setdefault(values["email"], target)


def contact_merge_update(*, contact: Contact, data: dict) -> Contact:
    """Apply the ``update`` rule to an existing contact."""
    current = {
        "metadata": contact.metadata,
        "tags": list(contact.tags.values_list("name", flat=True)),
    }
    changes = merged(current, data)
    if not data.get("tags"):
        changes.pop("tags")
    return contact_update(contact=contact, data=changes)


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
        _apply(item.contact, {k: v for k, v in item.data.items() if k != "tags"})
    Contact.objects.bulk_create([item.contact for item in new], batch_size=500)
    names = {name for item in new for name in item.data.get("tags") or []}
    if names:
        Tag.objects.bulk_create(
            [Tag(workspace=workspace, name=name) for name in names], ignore_conflicts=True
        )
        tags = dict(
            Tag.objects.for_workspace(workspace).filter(name__in=names).values_list("name", "pk")
        )
        Contact.tags.through.objects.bulk_create(
            Contact.tags.through(contact_id=item.contact.pk, tag_id=tags[name])
            for item in new
            for name in item.data.get("tags") or []
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
        targets: list[Contact | _New | None] = []
        for data in cleaned:
            target = None if data is None else _place(index, data, duplicate_strategy, result)
            targets.append(target)
        new = [t for t in targets if isinstance(t, _New)]
        contacts_bulk_create(
            workspace=workspace, new=list({id(t): t for t in new}.values()), source=source
        )
        for target in targets:
            contact = target.contact if isinstance(target, _New) else target
            result.contact_ids.append(contact.pk if contact else None)
        group_add_contacts(
            group=group, contact_ids=[pk for pk in result.contact_ids if pk], source=source
        )
    return result


def _place(index: DuplicateIndex, data: dict, strategy: str, result: BatchResult):
    """The contact (existing, or new in this batch) that an item becomes; counts it."""
    match = index.find(data) if strategy != "create" else None
    if match is None:
        target = _New(data)
        result.created += 1
    elif strategy == "skip":
        target = match
        result.duplicates += 1
    elif isinstance(match, _New):
        match.data = merged(match.data, data)
        target = match
        result.updated += 1
    else:
        target = contact_merge_update(contact=match, data=data)
        result.updated += 1
    index.remember(target)
    return target
