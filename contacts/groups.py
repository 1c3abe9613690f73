"""Writes to groups and their memberships: create, rename, delete, add, remove, move, copy.

Called alike by the dashboard views, the JSON API, batch operations, the import and the
upsert. A group's name is unique in its workspace whatever the case ("customers" is the
group "Customers"): group_create and group_update refuse a name taken that way, and
group_named / group_get_or_create find the group by it.
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from accounts.models import Workspace

from .models import Contact, ContactGroup, GroupMembership
from .selectors import group_counts_changed


def group_create(*, workspace: Workspace, name: str, description: str = "") -> ContactGroup:
    """A new group; a name already used in the workspace is an error with code "duplicate"."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the group a name."})
    if len(name) > 120:
        raise ValidationError({"name": "A group name has at most 120 characters."})
    if group_named(workspace=workspace, name=name) is not None:
        raise ValidationError(
            {"name": ValidationError(f"A group named “{name}” already exists.", code="duplicate")}
        )
    try:
        with transaction.atomic():
            return ContactGroup.objects.create(
                workspace=workspace, name=name[:120], description=description
            )
    except IntegrityError:  # created concurrently
        raise ValidationError(
            {"name": ValidationError(f"A group named “{name}” already exists.", code="duplicate")}
        ) from None


def group_named(*, workspace: Workspace, name: str) -> ContactGroup | None:
    """The workspace's group with this name as group_create compares names: trimmed, and
    whatever the case ("customers" is the group "Customers")."""
    groups = ContactGroup.objects.for_workspace(workspace).filter(name__iexact=name.strip())
    return groups.order_by("pk").first()


def group_get_or_create(*, workspace: Workspace, name: str) -> ContactGroup:
    """The group with this name (group_named), else a new one made by group_create."""
    group = group_named(workspace=workspace, name=name)
    if group is not None:
        return group
    try:
        return group_create(workspace=workspace, name=name)
    except ValidationError as exc:
        group = group_named(workspace=workspace, name=name)  # made meanwhile by someone else
        if group is None:
            raise exc from None
        return group


def group_update(
    *, group: ContactGroup, name: str | None = None, description: str | None = None
) -> ContactGroup:
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": "Give the group a name."})
        if len(name) > 120:
            raise ValidationError({"name": "A group name has at most 120 characters."})
        taken = (
            ContactGroup.objects.for_workspace(group.workspace)
            .filter(name__iexact=name)
            .exclude(pk=group.pk)
        )
        if taken.exists():
            raise ValidationError(
                {
                    "name": ValidationError(
                        f"A group named “{name}” already exists.", code="duplicate"
                    )
                }
            )
        group.name = name[:120]
    if description is not None:
        group.description = description
    group.save()
    return group


class GroupInUse(Exception):
    """The group is the audience of something still to send: `users` says what."""

    def __init__(self, users: list[str]):
        self.users = users
        super().__init__("The group is in use: " + "; ".join(users))


def group_users(*, group: ContactGroup) -> list[str]:
    """What still needs the group (a scheduled or running campaign …), one line each, as the
    apps above contacts report it through settings.HERALD_GROUP_USERS."""
    return [line for path in settings.HERALD_GROUP_USERS for line in import_string(path)(group)]


def group_delete(*, group: ContactGroup, force: bool = False) -> None:
    """Delete a group; its contacts stay (they may be in other groups). A group that a
    scheduled or running campaign targets is kept unless `force` (GroupInUse says which)."""
    if not force and (users := group_users(group=group)):
        raise GroupInUse(users)
    group.delete()
    group_counts_changed(group.workspace_id)


def group_add_contacts(
    *, group: ContactGroup, contact_ids: Iterable[int], source: str = GroupMembership.Source.MANUAL
) -> int:
    """Add contacts of the group's workspace to it; already-members are left as they are."""
    ids = list(
        Contact.objects.for_workspace(group.workspace)
        .filter(pk__in=list(contact_ids))
        .values_list("pk", flat=True)
    )
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, contact_id=pk, source=source) for pk in ids],
        ignore_conflicts=True,
        batch_size=2000,
    )
    group_counts_changed(group.workspace_id)
    return len(ids)


def group_remove_contacts(*, group: ContactGroup, contact_ids: Iterable[int]) -> int:
    deleted, _ = GroupMembership.objects.filter(
        group=group, contact_id__in=list(contact_ids)
    ).delete()
    group_counts_changed(group.workspace_id)
    return deleted


@transaction.atomic
def contacts_move(*, source: ContactGroup, target: ContactGroup, contact_ids: Iterable[int]) -> int:
    """Move members of `source` to `target` (both of one workspace): added there, removed here."""
    if source.workspace_id != target.workspace_id:
        raise ValidationError({"target_group_id": "Unknown group."})
    ids = list(
        GroupMembership.objects.filter(group=source, contact_id__in=list(contact_ids)).values_list(
            "contact_id", flat=True
        )
    )
    if source.pk == target.pk:
        return 0
    group_add_contacts(group=target, contact_ids=ids)
    group_remove_contacts(group=source, contact_ids=ids)
    return len(ids)


def contacts_copy(*, target: ContactGroup, contact_ids: Iterable[int]) -> int:
    return group_add_contacts(group=target, contact_ids=contact_ids)
