"""Adding a batch of contacts to a group with duplicate handling (A1, the rules of I-dedup).

Duplicates are found by phone OR email, against the workspace's contacts and earlier items of
the same batch. The strategy decides what happens to a duplicate:

- ``skip``: the existing contact is kept as it is (and still added to the group);
- ``update``: it gets the item's non-empty values, metadata merged key by key, tags added;
- ``create``: a separate contact is made anyway.

Every item lands in exactly one of the counts: ``created``, ``updated``, ``duplicates`` (kept
unchanged) or ``invalid`` (reported by index with field errors; the other items still go in).
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Workspace

from .models import Contact, ContactGroup, GroupMembership
from .services import clean_contact_data, contact_create, contact_update, group_add_contacts

DUPLICATE_STRATEGIES = ("skip", "update", "create")


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    errors: list[dict] = field(default_factory=list)
    contact_ids: list[int | None] = field(default_factory=list)


class DuplicateIndex:
    """The workspace's contacts by phone and by email, plus those added during the batch."""

    def __init__(self, *, workspace: Workspace, cleaned: list[dict]):
        phones = {c["phone"] for c in cleaned if c.get("phone")}
        emails = {c["email"] for c in cleaned if c.get("email")}
        self.by_phone: dict[str, Contact] = {}
        self.by_email: dict[str, Contact] = {}
        existing = Contact.objects.for_workspace(workspace).order_by("pk")
        for contact in existing.filter(phone__in=phones) if phones else ():
            self.by_phone.setdefault(contact.phone, contact)
        for contact in existing.filter(email__in=emails) if emails else ():
            self.by_email.setdefault(contact.email, contact)

    def find(self, item: dict) -> Contact | None:
        return self.by_phone.get(item.get("phone") or "") or self.by_email.get(
            item.get("email") or ""
        )

    def remember(self, contact: Contact) -> None:
        if contact.phone:
            self.by_phone.setdefault(contact.phone, contact)
        if contact.email:
            self.by_email.setdefault(contact.email, contact)


def contact_merge_update(*, contact: Contact, data: dict) -> Contact:
    """The ``update`` rule: non-empty values overwrite, metadata merges, tags are added."""
    changes = {
        k: v for k, v in data.items() if k not in ("metadata", "tags") and v not in ("", None)
    }
    if data.get("metadata"):
        changes["metadata"] = {**(contact.metadata or {}), **data["metadata"]}
    if data.get("tags"):
        current = set(contact.tags.values_list("name", flat=True))
        changes["tags"] = sorted(current | set(data["tags"]))
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
        for data in cleaned:
            if data is None:
                result.contact_ids.append(None)
                continue
            existing = index.find(data) if duplicate_strategy != "create" else None
            if existing is None:
                contact = contact_create(workspace=workspace, data=data, source=source)
                index.remember(contact)
                result.created += 1
            elif duplicate_strategy == "update":
                contact = contact_merge_update(contact=existing, data=data)
                result.updated += 1
            else:
                contact = existing
                result.duplicates += 1
            result.contact_ids.append(contact.pk)
        group_add_contacts(
            group=group, contact_ids=[pk for pk in result.contact_ids if pk], source=source
        )
    return result
