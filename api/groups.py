"""/api/v1/campaigns/contact-groups (A1): groups, their members, move/copy, CSV export."""

from typing import Annotated

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from ninja import Router, Status
from pydantic import Field

from contacts.export import export_job_create, export_rows
from contacts.groups import (
    GroupInUse,
    contacts_copy,
    contacts_move,
    group_create,
    group_delete,
    group_remove_contacts,
    group_update,
)
from contacts.models import Contact, ContactGroup, GroupMembership
from contacts.upsert import group_contacts_upsert
from core.csv import csv_response

from .errors import require_ids
from .exports import ExportOut, export_out
from .schemas import (
    CSV_RESPONSE,
    ERRORS,
    ContactIdsIn,
    CountOut,
    ErrorOut,
    GroupContactsIn,
    GroupContactsOut,
    GroupIn,
    GroupListOut,
    GroupOut,
    GroupPatch,
    Id,
    MoveIn,
)

router = Router(tags=["contact groups"])


def groups_of(request):
    return (
        ContactGroup.objects.for_workspace(request.workspace)
        .annotate(member_count=Count("memberships"))
        .order_by("name", "pk")
    )


def get_group(request, group_id: int) -> ContactGroup:
    return get_object_or_404(groups_of(request), pk=group_id)


def workspace_contact_ids(request, ids: list[int]) -> list[int]:
    return require_ids(Contact.objects.for_workspace(request.workspace), ids, field="contact_ids")


def duplicate_name(exc: ValidationError) -> bool:
    errors = getattr(exc, "error_dict", {}).get("name", [])
    return any(error.code == "duplicate" for error in errors)


def save_group(call, **kwargs):
    """Run group_create/group_update, turning a taken name into a 409."""
    try:
        return call(**kwargs)
    except ValidationError as exc:
        if duplicate_name(exc):
            return Status(409, {"message": "Name already used.", "errors": exc.message_dict})
        raise


@router.post("", response={201: GroupOut, 409: ErrorOut, **ERRORS}, summary="Create a group")
def group_add(request, payload: GroupIn):
    result = save_group(
        group_create,
        workspace=request.workspace,
        name=payload.name,
        description=payload.description,
    )
    if isinstance(result, Status):
        return result
    return Status(201, get_group(request, result.pk))


@router.get("", response={200: GroupListOut, **ERRORS}, summary="List groups")
def group_list(
    request,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
):
    """Groups by name, with their member counts."""
    groups = groups_of(request)
    count = ContactGroup.objects.for_workspace(request.workspace).count()
    return {"items": list(groups[offset : offset + limit]), "count": count}


@router.get("/{group_id}", response={200: GroupOut, **ERRORS}, summary="Get a group")
def group_detail(request, group_id: Id):
    return get_group(request, group_id)


@router.patch(
    "/{group_id}", response={200: GroupOut, 409: ErrorOut, **ERRORS}, summary="Rename a group"
)
def group_patch(request, group_id: Id, payload: GroupPatch):
    group = get_group(request, group_id)
    result = save_group(group_update, group=group, **payload.model_dump(exclude_none=True))
    if isinstance(result, Status):
        return result
    return get_group(request, group_id)


@router.delete(
    "/{group_id}", response={204: None, 409: ErrorOut, **ERRORS}, summary="Delete a group"
)
def group_remove(request, group_id: Id, force: bool = False):
    """Deletes the group and its memberships; the contacts stay in the workspace. A group
    that a scheduled, running or paused campaign targets is a 409 naming the campaigns in
    `errors.campaigns`, and is kept, unless `force=true`."""
    try:
        group_delete(group=get_group(request, group_id), force=force)
    except GroupInUse as exc:
        body = {"message": "The group is in use.", "errors": {"campaigns": exc.users}}
        return Status(409, body)
    return Status(204, None)


@router.post(
    "/{group_id}/contacts",
    response={200: GroupContactsOut, **ERRORS},
    summary="Add a batch of contacts",
)
def group_contacts_add(request, group_id: Id, payload: GroupContactsIn):
    """Creates or matches each contact and adds it to the group (membership source `api`).
    Duplicates are found by phone OR email among the workspace's contacts and earlier items.
    Each item counts in exactly one of created, updated, duplicates and invalid; invalid
    items are listed in `errors` by index and the others still go in."""
    group = get_group(request, group_id)
    items = [item.model_dump(exclude_none=True) for item in payload.contacts]
    result = group_contacts_upsert(
        group=group,
        items=items,
        duplicate_strategy=payload.duplicate_strategy,
        source=GroupMembership.Source.API,
    )
    return result.__dict__


@router.delete(
    "/{group_id}/contacts", response={200: CountOut, **ERRORS}, summary="Remove from a group"
)
def group_contacts_remove(request, group_id: Id, payload: ContactIdsIn):
    """Removes the contacts from the group (they stay in the workspace). Every id must be a
    contact of the workspace (else 404, nothing removed); non-members are skipped."""
    group = get_group(request, group_id)
    ids = workspace_contact_ids(request, payload.contact_ids)
    return {"count": group_remove_contacts(group=group, contact_ids=ids)}


@router.post("/{group_id}/move", response={200: CountOut, **ERRORS}, summary="Move contacts")
def group_contacts_move(request, group_id: Id, payload: MoveIn):
    """Moves members of this group to the target group; `count` is how many moved."""
    source = get_group(request, group_id)
    target = get_group(request, payload.target_group_id)
    ids = workspace_contact_ids(request, payload.contact_ids)
    return {"count": contacts_move(source=source, target=target, contact_ids=ids)}


@router.post("/{group_id}/copy", response={200: CountOut, **ERRORS}, summary="Copy contacts")
def group_contacts_copy(request, group_id: Id, payload: MoveIn):
    """Adds the contacts to the target group too; they stay in this one."""
    get_group(request, group_id)
    target = get_group(request, payload.target_group_id)
    ids = workspace_contact_ids(request, payload.contact_ids)
    return {"count": contacts_copy(target=target, contact_ids=ids)}


@router.get(
    "/{group_id}/export",
    response={200: None, 202: ExportOut, **ERRORS},
    summary="Export a group as CSV",
    openapi_extra=CSV_RESPONSE,
)
def group_export(request, group_id: Id):
    """The members as CSV (the C8 columns, then one per metadata key). A group larger than
    HERALD_EXPORT_SYNC_LIMIT (5,000) is exported in the background instead: the answer is
    202 with the export job (poll `GET /api/v1/exports/{id}`, then follow `download_url`)."""
    group = get_group(request, group_id)
    members = Contact.objects.for_workspace(request.workspace).filter(memberships__group=group)
    if group.member_count > settings.HERALD_EXPORT_SYNC_LIMIT:
        job = export_job_create(
            workspace=request.workspace, filters={"group": str(group.pk)}, contact_ids=None
        )
        return Status(202, export_out(request, job))
    filename = f"{slugify(group.name) or 'group'}-{group.pk}.csv"
    return csv_response(export_rows(members), filename=filename)
