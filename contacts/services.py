"""Writes to contacts that carry a rule or a side effect (C1-C10); groups are in groups.py.

Called alike by the dashboard views, the JSON API, management commands and tasks. Every
function takes the workspace (or objects already scoped to it) and validates its input,
raising ValidationError with field names for anything a user must fix.
"""

import zoneinfo
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.timezone import now

from accounts.models import Workspace

from .models import Contact, ContactEvent, ContactGroup, GroupMembership, Tag
from .phones import InvalidPhone, normalize_phone, phone_info
from .selectors import group_counts_changed

TEXT_FIELDS = ("first_name", "last_name", "company")
EDITABLE_FIELDS = (*TEXT_FIELDS, "email", "phone", "timezone", "metadata", "tags")
VALID_TIMEZONES = zoneinfo.available_timezones()


def clean_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > 254:
        raise ValidationError("An email address has at most 254 characters.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(f"“{raw}” is not a valid email address.") from None
    return email


def clean_contact_data(*, workspace: Workspace, data: dict, current: Contact | None = None) -> dict:
    """Validated, normalised contact fields from user input (C1-C3); raises with field errors.

    With `current` (an update), only the given fields are cleaned, and the contact must still
    have a phone or an email once they are applied.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    for field in TEXT_FIELDS:
        if field in data:
            value = str(data[field] or "").strip()
            limit = Contact._meta.get_field(field).max_length
            if len(value) > limit:
                errors[field] = [f"At most {limit} characters."]
            cleaned[field] = value[:limit]
    if "email" in data:
        try:
            cleaned["email"] = clean_email(str(data["email"] or ""))
        except ValidationError as exc:
            errors["email"] = exc.messages
    if "phone" in data:
        raw = str(data["phone"] or "").strip()
        try:
            cleaned["phone"] = normalize_phone(raw, workspace.default_region) if raw else ""
        except InvalidPhone as exc:
            errors["phone"] = [str(exc)]
    if "timezone" in data:
        tz = str(data["timezone"] or "").strip()
        if tz and tz not in VALID_TIMEZONES:
            errors["timezone"] = [f"“{tz}” is not a time zone name (e.g. America/New_York)."]
        cleaned["timezone"] = tz
    if "metadata" in data:
        metadata = data["metadata"] or {}
        if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
            errors["metadata"] = ["Custom fields must be an object of names to values."]
        else:
            cleaned["metadata"] = {k.strip(): v for k, v in metadata.items() if k.strip()}
    if "tags" in data:
        tags = data["tags"] or []
        if isinstance(tags, str):
            tags = tags.split(",")
        cleaned["tags"] = sorted({str(t).strip()[:64] for t in tags if str(t).strip()})
    if current is None or "phone" in cleaned or "email" in cleaned:
        has_phone = cleaned.get("phone", current.phone if current else "")
        has_email = cleaned.get("email", current.email if current else "")
        if not has_phone and not has_email and "phone" not in errors and "email" not in errors:
            errors["__all__"] = ["Give a phone number or an email address (at least one)."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def contact_fill(contact: Contact, cleaned: dict) -> None:
    """Set cleaned fields on an unsaved contact, with what the phone number implies."""
    for field, value in cleaned.items():
        if field != "tags":
            setattr(contact, field, value)
    if contact.phone and "phone" in cleaned:
        info = phone_info(contact.phone)
        contact.carrier, contact.line_type = info.carrier, info.line_type
        if not cleaned.get("timezone"):
            contact.timezone = info.timezone or contact.timezone
    elif "phone" in cleaned:
        # The number was removed: what was derived from it no longer applies.
        contact.carrier = contact.line_type = ""
    contact.is_valid = True


def _set_tags(contact: Contact, names: list[str]) -> None:
    tags = [tag_get_or_create(workspace=contact.workspace, name=name) for name in names]
    contact.tags.set(tags)


def tag_get_or_create(*, workspace: Workspace, name: str) -> Tag:
    tag, _ = Tag.objects.get_or_create(workspace=workspace, name=name.strip()[:64])
    return tag


@transaction.atomic
def contact_create(
    *,
    workspace: Workspace,
    data: dict,
    groups: Iterable[ContactGroup] = (),
    source: str = GroupMembership.Source.MANUAL,
    actor=None,
) -> Contact:
    cleaned = clean_contact_data(workspace=workspace, data=data)
    contact = Contact(workspace=workspace)
    contact_fill(contact, cleaned)
    contact.save()
    if cleaned.get("tags"):
        _set_tags(contact, cleaned["tags"])
    for group in groups:
        GroupMembership.objects.get_or_create(
            group=group, contact=contact, defaults={"source": source}
        )
    ContactEvent.objects.create(
        workspace=workspace,
        contact=contact,
        kind=ContactEvent.Kind.CREATED,
        detail=source,
        actor=actor,
    )
    group_counts_changed(workspace.pk)
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, data: dict, actor=None) -> Contact:
    """Change the given fields only; a contact must keep a phone or an email."""
    data = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    cleaned = clean_contact_data(workspace=contact.workspace, data=data, current=contact)
    contact_fill(contact, cleaned)
    contact.save()
    if "tags" in cleaned:
        _set_tags(contact, cleaned["tags"])
    return contact


def contact_opt_out(*, contact: Contact, reason: str, actor=None, detail: str = "") -> bool:
    """Opt a contact out (C10); logged as an event. False when already opted out."""
    if reason not in Contact.OptOutReason.values:
        raise ValidationError({"opt_out_reason": f"Unknown opt-out reason “{reason}”."})
    with transaction.atomic():
        changed = Contact.objects.filter(pk=contact.pk, status=Contact.Status.ACTIVE).update(
            status=Contact.Status.OPTED_OUT,
            opt_out_reason=reason,
            opted_out_at=now(),
            updated_at=now(),
        )
        if changed:
            ContactEvent.objects.create(
                workspace_id=contact.workspace_id,
                contact=contact,
                kind=ContactEvent.Kind.OPTED_OUT,
                reason=reason,
                detail=detail[:255],
                actor=actor,
            )
    contact.refresh_from_db(fields=["status", "opt_out_reason", "opted_out_at"])
    return bool(changed)


def contact_opt_in(*, contact: Contact, actor=None, detail: str = "") -> bool:
    """Make an opted-out contact active again; logged. False when already active."""
    with transaction.atomic():
        changed = Contact.objects.filter(pk=contact.pk, status=Contact.Status.OPTED_OUT).update(
            status=Contact.Status.ACTIVE, opt_out_reason="", opted_out_at=None, updated_at=now()
        )
        if changed:
            ContactEvent.objects.create(
                workspace_id=contact.workspace_id,
                contact=contact,
                kind=ContactEvent.Kind.OPTED_IN,
                detail=detail[:255],
                actor=actor,
            )
    contact.refresh_from_db(fields=["status", "opt_out_reason", "opted_out_at"])
    return bool(changed)


def contacts_opt_out(
    *, workspace: Workspace, contact_ids: Iterable[int], reason: str, actor=None
) -> int:
    """Batch opt-out of the given contacts of this workspace; returns how many changed."""
    if reason not in Contact.OptOutReason.values:
        raise ValidationError({"opt_out_reason": f"Unknown opt-out reason “{reason}”."})
    changed = 0
    for chunk in _chunks(contact_ids):
        changed += _opt_out_chunk(workspace=workspace, ids=chunk, reason=reason, actor=actor)
    return changed


def _opt_out_chunk(*, workspace: Workspace, ids: list[int], reason: str, actor) -> int:
    with transaction.atomic():
        # Lock the rows so the events logged are exactly the contacts this call changed.
        ids = list(
            Contact.objects.for_workspace(workspace)
            .active()
            .filter(pk__in=ids)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        changed = Contact.objects.filter(pk__in=ids, status=Contact.Status.ACTIVE).update(
            status=Contact.Status.OPTED_OUT,
            opt_out_reason=reason,
            opted_out_at=now(),
            updated_at=now(),
        )
        ContactEvent.objects.bulk_create(
            ContactEvent(
                workspace=workspace,
                contact_id=pk,
                kind=ContactEvent.Kind.OPTED_OUT,
                reason=reason,
                actor=actor,
            )
            for pk in ids
        )
    return changed


CHUNK = 2000


def _chunks(ids: Iterable[int], size: int = CHUNK):
    """Lists of at most `size` ids: keeps `IN (...)` lists and transactions short."""
    chunk: list[int] = []
    for pk in ids:
        chunk.append(int(pk))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def contacts_delete(*, workspace: Workspace, contact_ids: Iterable[int]) -> int:
    """Delete contacts of this workspace (with their memberships); returns how many."""
    deleted = 0
    for chunk in _chunks(contact_ids):
        _, per_model = Contact.objects.for_workspace(workspace).filter(pk__in=chunk).delete()
        deleted += per_model.get(Contact._meta.label, 0)
    group_counts_changed(workspace.pk)
    return deleted


def contacts_delete_all(*, workspace: Workspace) -> int:
    """Delete every contact of the workspace (C9), in batches so no transaction grows huge.

    Idempotent: running it again (a redelivered task) deletes what is left, if anything.
    """
    deleted = 0
    while True:
        ids = list(
            Contact.objects.for_workspace(workspace)
            .order_by()
            .values_list("pk", flat=True)[: CHUNK * 5]
        )
        if not ids:
            return deleted
        deleted += contacts_delete(workspace=workspace, contact_ids=ids)


def contacts_add_tag(*, workspace: Workspace, contact_ids: Iterable[int], name: str) -> int:
    name = name.strip()
    if not name:
        raise ValidationError({"tag": "Give a tag name."})
    tag = tag_get_or_create(workspace=workspace, name=name)
    ids = (
        Contact.objects.for_workspace(workspace)
        .filter(pk__in=list(contact_ids))
        .values_list("pk", flat=True)
    )
    through = Contact.tags.through
    links = [through(contact_id=pk, tag_id=tag.pk) for pk in ids]
    through.objects.bulk_create(links, ignore_conflicts=True, batch_size=2000)
    return len(links)


def contacts_remove_tag(*, workspace: Workspace, contact_ids: Iterable[int], name: str) -> int:
    tag = Tag.objects.for_workspace(workspace).filter(name=name.strip()).first()
    if tag is None:
        return 0
    deleted, _ = Contact.tags.through.objects.filter(
        tag=tag, contact__workspace=workspace, contact_id__in=list(contact_ids)
    ).delete()
    return deleted
