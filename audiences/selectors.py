"""Reads of smart groups: their contacts, count and preview (G1, G4)."""

from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import Workspace
from contacts.models import Contact

from .compiler import definition_q, scope_for
from .definition import Definition, definition_parse
from .models import SmartGroup

PREVIEW = 10


def smart_group_contacts(
    *, workspace: Workspace, definition: Definition, now: datetime | None = None
) -> QuerySet[Contact]:
    """The workspace's contacts that `definition` matches now, in list order."""
    q = definition_q(definition, scope_for(workspace, now))
    return Contact.objects.for_workspace(workspace).filter(q)


def smart_group_members(*, smart_group: SmartGroup, now: datetime | None = None) -> QuerySet:
    """The contacts a saved smart group matches now."""
    return smart_group_contacts(
        workspace=smart_group.workspace,
        definition=definition_parse(smart_group.definition),
        now=now,
    )


def smart_group_count(*, workspace: Workspace, definition: Definition) -> int:
    return smart_group_contacts(workspace=workspace, definition=definition).order_by().count()


def smart_group_preview(
    *, workspace: Workspace, definition: Definition, limit: int = PREVIEW
) -> list[Contact]:
    return list(smart_group_contacts(workspace=workspace, definition=definition)[:limit])


def smart_group_filter_q(workspace: Workspace, smart_group_id: int) -> Q | None:
    """The contacts filter's smart group (contacts/filters.py): its WHERE, or None when the
    workspace has no smart group with this id."""
    smart_group = SmartGroup.objects.for_workspace(workspace).filter(pk=smart_group_id).first()
    if smart_group is None:
        return None
    return definition_q(definition_parse(smart_group.definition), scope_for(workspace))
