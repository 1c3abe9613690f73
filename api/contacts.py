"""/api/v1/contacts (A2): list with the C5 filters, create, read, replace, patch, delete."""

from typing import Annotated, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Status
from ninja.errors import ValidationError as SchemaError
from pydantic import Field

from contacts import selectors
from contacts.models import Contact, ContactGroup, GroupMembership, Tag
from contacts.services import (
    contact_create,
    contact_opt_in,
    contact_opt_out,
    contact_update,
    contacts_delete,
)

from .errors import require_ids
from .schemas import (
    ERRORS,
    ContactIn,
    ContactListOut,
    ContactOut,
    ContactPatch,
    DeletedOut,
    Id,
    IdList,
    IdsIn,
    Input,
)

router = Router(tags=["contacts"])


class ContactFilters(Input):
    search: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="Name, phone digits or email (prefix when it contains @)."
    )
    group_id: Id | None = Field(None, description="Members of this group (404 if unknown).")
    status: Literal["active", "opted_out"] | None = None
    has_phone: bool | None = None
    has_email: bool | None = None
    tag: Annotated[str, Field(max_length=64)] | None = Field(None, description="A tag name.")
    clicked_within_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None, description="Clicked a tracked link in the last N days."
    )
    has_converted: bool | None = Field(None, description="Has at least one conversion.")


class ContactCreateIn(ContactIn):
    group_ids: IdList | None = Field(None, description="Groups to add the new contact to.")


def contact_filter_data(workspace, filters: ContactFilters) -> dict | None:
    """The filters as ContactFilter data, checked; None when nothing can match (unknown tag).

    ContactFilter drops a filter whose value it cannot read, which would widen the result,
    so every value is checked here first: an unknown group is a 404, others a 422.
    """
    data = filters.model_dump(exclude_none=True)
    if "group_id" in data:
        group_id = data.pop("group_id")
        require_ids(ContactGroup.objects.for_workspace(workspace), [group_id], field="group_id")
        data["group"] = str(group_id)
    if "tag" in data and not Tag.objects.for_workspace(workspace).filter(name=data["tag"]).exists():
        return None
    for flag in ("has_phone", "has_email", "has_converted"):
        if flag in data:
            data[flag] = "true" if data[flag] else "false"
    contact_filter = selectors.contact_filter(workspace=workspace, filters=data)
    if not contact_filter.is_valid():
        raise SchemaError(
            [
                {"loc": ("query", name), "msg": " ".join(messages)}
                for name, messages in contact_filter.errors.items()
            ]
        )
    return data


def with_relations(queryset: QuerySet) -> QuerySet:
    memberships = GroupMembership.objects.only("id", "contact_id", "group_id")
    return queryset.prefetch_related("tags", Prefetch("memberships", queryset=memberships))


def get_contact(request, contact_id: int) -> Contact:
    return get_object_or_404(
        with_relations(Contact.objects.for_workspace(request.workspace)), pk=contact_id
    )


def fresh(request, contact: Contact) -> Contact:
    return get_contact(request, contact.pk)


@router.get("", response={200: ContactListOut, **ERRORS}, summary="List contacts")
def contact_list(
    request,
    filters: Query[ContactFilters],
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
):
    """Newest first. `count` is exact up to HERALD_API_COUNT_CAP (10,000 by default); past it
    the API stops counting, returns the cap and sets `count_capped`, so a page stays fast on
    millions of contacts. Page with `offset` until a page has fewer than `limit` items."""
    workspace, cap = request.workspace, settings.HERALD_API_COUNT_CAP
    data = contact_filter_data(workspace, filters)
    if data is None:  # an unknown tag: nothing matches
        queryset, counted = Contact.objects.none(), 0
    else:
        queryset = selectors.contact_list(workspace=workspace, filters=data)
        counted = selectors.contact_count(workspace=workspace, filters=data, cap=cap)
    items = list(with_relations(queryset)[offset : offset + limit])
    return {"items": items, "count": min(counted, cap), "count_capped": counted > cap}


@router.post("", response={201: ContactOut, **ERRORS}, summary="Create a contact")
def contact_add(request, payload: ContactCreateIn):
    data = payload.model_dump(exclude_none=True)
    group_ids = data.pop("group_ids", None) or []
    groups = ContactGroup.objects.for_workspace(request.workspace)
    require_ids(groups, group_ids, field="group_ids")
    contact = contact_create(
        workspace=request.workspace,
        data=data,
        groups=groups.filter(pk__in=group_ids),
        source=GroupMembership.Source.API,
    )
    return Status(201, fresh(request, contact))


@router.delete("", response={200: DeletedOut, **ERRORS}, summary="Delete contacts")
def contact_delete_many(request, payload: IdsIn):
    """All ids must be contacts of the workspace, else 404 and nothing is deleted."""
    ids = require_ids(Contact.objects.for_workspace(request.workspace), payload.ids, field="ids")
    return {"deleted": contacts_delete(workspace=request.workspace, contact_ids=ids)}


@router.get("/{contact_id}", response={200: ContactOut, **ERRORS}, summary="Get a contact")
def contact_detail(request, contact_id: Id):
    return get_contact(request, contact_id)


@router.put("/{contact_id}", response={200: ContactOut, **ERRORS}, summary="Update a contact")
def contact_put(request, contact_id: Id, payload: ContactIn):
    """Updates the fields sent; a field left out (or null) keeps its value, so sending some
    details never wipes the others. To empty a field send `""` (`metadata` `{}`, `tags`
    `[]`). `metadata` and `tags`, when sent, replace the whole set. Opting out or in is
    PATCH's `status`."""
    contact = get_contact(request, contact_id)
    data = payload.model_dump(exclude_none=True)
    if data:
        contact_update(contact=contact, data=data)
    return fresh(request, contact)


@router.patch("/{contact_id}", response={200: ContactOut, **ERRORS}, summary="Update a contact")
def contact_patch(request, contact_id: Id, payload: ContactPatch):
    """Changes only the fields sent. `{"status": "opted_out"}` opts out (reason `manual`),
    `{"status": "active"}` opts back in."""
    contact = get_contact(request, contact_id)
    data = payload.model_dump(exclude_unset=True)
    status = data.pop("status", None)
    with transaction.atomic():
        if data:
            contact_update(contact=contact, data=data)
        if status == Contact.Status.OPTED_OUT:
            contact_opt_out(contact=contact, reason=Contact.OptOutReason.MANUAL, detail="api")
        elif status == Contact.Status.ACTIVE:
            contact_opt_in(contact=contact, detail="api")
    return fresh(request, contact)
