"""Writes of smart groups: create, change, delete, and freeze into a static group (G1, G4)."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Workspace
from contacts.groups import group_create
from contacts.models import ContactGroup, GroupMembership
from contacts.selectors import group_counts_changed

from .definition import definition_clean
from .models import SmartGroup
from .selectors import smart_group_members


def _duplicate(name: str) -> ValidationError:
    return ValidationError(
        {"name": ValidationError(f"A smart group named “{name}” already exists.", code="duplicate")}
    )


def _clean_name(workspace: Workspace, name: Any, exclude_pk: int | None = None) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "Give the smart group a name."})
    if len(name) > 120:
        raise ValidationError({"name": "A name has at most 120 characters."})
    taken = SmartGroup.objects.for_workspace(workspace).filter(name__iexact=name)
    if taken.exclude(pk=exclude_pk).exists():
        raise _duplicate(name)
    return name


def _save(smart_group: SmartGroup) -> SmartGroup:
    try:
        with transaction.atomic():
            smart_group.save()
    except IntegrityError:  # the same name saved concurrently
        raise _duplicate(smart_group.name) from None
    return smart_group


def smart_group_create(
    *, workspace: Workspace, name: str, definition: dict, actor=None
) -> SmartGroup:
    """A new smart group; the name must be free and the definition valid (ValidationError
    naming each problem's place otherwise, nothing stored)."""
    errors = {}
    try:
        name = _clean_name(workspace, name)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    try:
        cleaned = definition_clean(workspace=workspace, data=definition).as_json()
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if errors:
        raise ValidationError(errors)
    return _save(SmartGroup(workspace=workspace, name=name, created_by=actor, **cleaned))


def smart_group_update(
    *, smart_group: SmartGroup, name: str | None = None, definition: dict | None = None
) -> SmartGroup:
    """Change the name and/or the definition (given as a whole, or parts of it)."""
    workspace = smart_group.workspace
    errors = {}
    if name is not None:
        try:
            smart_group.name = _clean_name(workspace, name, exclude_pk=smart_group.pk)
        except ValidationError as exc:
            errors.update(exc.error_dict)
    if definition is not None:
        try:
            merged = smart_group.definition | definition
            cleaned = definition_clean(workspace=workspace, data=merged).as_json()
        except ValidationError as exc:
            errors.update(exc.error_dict)
        else:
            for attribute, value in cleaned.items():
                setattr(smart_group, attribute, value)
    if errors:
        raise ValidationError(errors)
    return _save(smart_group)


class SmartGroupInUse(Exception):
    """The smart group is the audience of a campaign still to send: `users` says which."""

    def __init__(self, users: list[str]):
        self.users = users
        super().__init__("The smart group is in use: " + "; ".join(users))


def smart_group_users(*, smart_group: SmartGroup) -> list[str]:
    """What still sends to the smart group, one line each, as the apps above audiences report
    it through settings.HERALD_SMART_GROUP_USERS."""
    paths = settings.HERALD_SMART_GROUP_USERS
    return [line for path in paths for line in import_string(path)(smart_group)]


def smart_group_delete(*, smart_group: SmartGroup, force: bool = False) -> None:
    """Delete the saved filter (no contact changes). One that a scheduled, running or paused
    campaign targets raises SmartGroupInUse unless `force`: deleted, it leaves the campaign
    nobody to send to (its results stay; its next run fails, naming why)."""
    if not force and (users := smart_group_users(smart_group=smart_group)):
        raise SmartGroupInUse(users)
    smart_group.delete()


@transaction.atomic
def smart_group_freeze(
    *, smart_group: SmartGroup, name: str, source: str = GroupMembership.Source.MANUAL
) -> ContactGroup:
    """A new static group holding the contacts the smart group matches now (G4).

    One INSERT … SELECT: the members never pass through Python, however many they are.
    """
    group = group_create(workspace=smart_group.workspace, name=name)
    members = smart_group_members(smart_group=smart_group).order_by().values(member=F("pk"))
    sql, params = members.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_groupmembership (group_id, contact_id, source, created_at) "
            f"SELECT %s, members.member, %s, %s FROM ({sql}) AS members",
            [group.pk, source, timezone.now(), *params],
        )
    group_counts_changed(group.workspace_id)
    return group
