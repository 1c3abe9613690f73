"""/api/v1/contacts/list (seed 002's contact lists): Herald's groups under the seed's paths.

A list is a group: the same ids, names and members as /api/v1/campaigns/contact-groups.
"""

from typing import Annotated

from django.db import transaction
from ninja import Query, Router, Schema, Status
from pydantic import Field

from contacts.groups import group_add_contacts, group_create, group_remove_contacts
from contacts.models import Contact, ContactGroup, GroupMembership

from .contacts import ContactFilters, contact_list
from .errors import require_ids
from .groups import get_group, groups_of, save_group
from .schemas import (
    ERRORS,
    ContactListOut,
    ErrorOut,
    GroupIn,
    GroupListOut,
    GroupOut,
    Id,
    IdList,
    Input,
    Paging,
)

router = Router(tags=["contact lists"])


class ListMembersIn(Input):
    contact_ids: IdList = Field(description="One or more contacts of the workspace.")
    list_ids: IdList = Field(description="One or more lists (groups) of the workspace.")


class ListMembersOut(Schema):
    count: int = Field(description="Memberships added (or removed): one per contact and list.")


@router.get("", response={200: GroupListOut, **ERRORS}, summary="List contact lists")
def list_index(request, paging: Query[Paging]):
    """The workspace's lists (groups) by name, with their member counts."""
    groups = groups_of(request)
    count = ContactGroup.objects.for_workspace(request.workspace).count()
    return {"items": list(groups[paging.offset : paging.offset + paging.limit]), "count": count}


@router.post("", response={201: GroupOut, 409: ErrorOut, **ERRORS}, summary="Create a list")
def list_add(request, payload: GroupIn):
    """A list with a name (unique in the workspace, else 409) and an optional description."""
    result = save_group(
        group_create,
        workspace=request.workspace,
        name=payload.name,
        description=payload.description,
    )
    if isinstance(result, Status):
        return result
    return Status(201, get_group(request, result.pk))


def _pairs(request, payload: ListMembersIn) -> tuple[list[ContactGroup], list[int]]:
    """The lists and contacts named, every one the workspace's, else 404 naming the field."""
    workspace = request.workspace
    list_ids = require_ids(
        ContactGroup.objects.for_workspace(workspace), payload.list_ids, field="list_ids"
    )
    contact_ids = require_ids(
        Contact.objects.for_workspace(workspace), payload.contact_ids, field="contact_ids"
    )
    groups = list(ContactGroup.objects.for_workspace(workspace).filter(pk__in=list_ids))
    return groups, contact_ids


def _memberships(groups, contact_ids) -> int:
    return GroupMembership.objects.filter(group__in=groups, contact_id__in=contact_ids).count()


@router.post("/contacts", response={200: ListMembersOut, **ERRORS}, summary="Add to lists")
def list_members_add(request, payload: ListMembersIn):
    """Adds every contact to every list in one request; already-members stay as they are.
    An unknown id is a 404 and nothing is added."""
    groups, contact_ids = _pairs(request, payload)
    with transaction.atomic():
        before = _memberships(groups, contact_ids)
        for group in groups:
            group_add_contacts(
                group=group, contact_ids=contact_ids, source=GroupMembership.Source.API
            )
        return {"count": _memberships(groups, contact_ids) - before}


@router.delete("/contacts", response={200: ListMembersOut, **ERRORS}, summary="Remove from lists")
def list_members_remove(request, payload: ListMembersIn):
    """Removes every contact from every list (the contacts themselves stay). An unknown id
    is a 404 and nothing is removed."""
    groups, contact_ids = _pairs(request, payload)
    with transaction.atomic():
        removed = sum(
            group_remove_contacts(group=group, contact_ids=contact_ids) for group in groups
        )
    return {"count": removed}


@router.get(
    "/{list_id}/contacts", response={200: ContactListOut, **ERRORS}, summary="Browse a list"
)
def list_members(
    request,
    list_id: Id,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
):
    """The list's contacts, newest first, `limit` from `offset` (as GET /contacts)."""
    get_group(request, list_id)
    return contact_list(request, ContactFilters(group_id=list_id), limit=limit, offset=offset)
