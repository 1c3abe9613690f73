"""Batch operations on selected contacts (C7), for the list page and its background task.

The selection is either explicit ids or "every contact matching these filters". Everything is
checked before any write, so a bad request changes nothing.
"""

from django.core.exceptions import ValidationError

from accounts.models import Workspace

from . import groups as group_writes
from . import services
from .models import Contact, ContactGroup
from .selectors import contact_list

ACTIONS = {"copy", "move", "remove_from_group", "delete", "add_tag", "remove_tag", "opt_out"}


def plural(n: int, word: str = "contact") -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def contacts_batch_check(
    *,
    action: str,
    source: ContactGroup | None,
    target: ContactGroup | None,
    tag: str,
) -> None:
    """A ValidationError with a message for the user when the request cannot be done."""
    if action not in ACTIONS:
        raise ValidationError("Choose an action.")
    if action in {"copy", "move"} and target is None:
        raise ValidationError("Choose the group to put the contacts in.")
    if action == "move" and source is None:
        raise ValidationError("Open a group first: moving takes contacts out of it.")
    if action == "remove_from_group" and source is None:
        raise ValidationError("Open a group first to remove contacts from it.")
    if action in {"add_tag", "remove_tag"} and not tag.strip():
        raise ValidationError("Type the tag to add or remove.")


def contacts_batch(
    *,
    workspace: Workspace,
    action: str,
    contact_ids: list[int],
    source: ContactGroup | None = None,
    target: ContactGroup | None = None,
    tag: str = "",
    actor=None,
) -> str:
    """Apply one batch action; returns what happened, in words. Groups must be this workspace's."""
    contacts_batch_check(action=action, source=source, target=target, tag=tag)
    for group in (source, target):
        if group is not None and group.workspace_id != workspace.pk:
            raise ValidationError("Unknown group.")
    ids, tag = contact_ids, tag.strip()
    if action == "copy":
        n = group_writes.contacts_copy(target=target, contact_ids=ids)
        return f"{plural(n)} copied to “{target}”."
    if action == "move":
        n = group_writes.contacts_move(source=source, target=target, contact_ids=ids)
        return f"{plural(n)} moved from “{source}” to “{target}”."
    if action == "remove_from_group":
        n = group_writes.group_remove_contacts(group=source, contact_ids=ids)
        return f"{plural(n)} removed from “{source}” (the contacts themselves are kept)."
    if action == "delete":
        return f"{plural(services.contacts_delete(workspace=workspace, contact_ids=ids))} deleted."
    if action == "add_tag":
        n = services.contacts_add_tag(workspace=workspace, contact_ids=ids, name=tag)
        return f"Tag “{tag}” added to {plural(n)}."
    if action == "remove_tag":
        n = services.contacts_remove_tag(workspace=workspace, contact_ids=ids, name=tag)
        return f"Tag “{tag}” removed from {plural(n)}."
    n = services.contacts_opt_out(
        workspace=workspace, contact_ids=ids, reason=Contact.OptOutReason.MANUAL, actor=actor
    )
    return f"{plural(n)} opted out (already opted-out contacts are unchanged)."


def contacts_batch_matching(
    *,
    workspace: Workspace,
    action: str,
    filters: dict,
    source_id: int | None,
    target_id: int | None,
    tag: str,
    actor=None,
) -> str:
    """The batch action on every contact matching `filters` (the background path)."""
    groups = ContactGroup.objects.for_workspace(workspace)
    source = groups.filter(pk=source_id).first() if source_id else None
    target = groups.filter(pk=target_id).first() if target_id else None
    if (source_id and source is None) or (target_id and target is None):
        return "The group was deleted meanwhile: nothing done."
    matching = contact_list(workspace=workspace, filters=filters).order_by()
    ids = list(matching.values_list("pk", flat=True))
    return contacts_batch(
        workspace=workspace,
        action=action,
        contact_ids=ids,
        source=source,
        target=target,
        tag=tag,
        actor=actor,
    )
