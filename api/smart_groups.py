"""/api/v1/smart-groups (G1, G4): saved filters, their count, members, and freezing."""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.errors import ValidationError as SchemaError
from pydantic import Field

from audiences.models import SmartGroup
from audiences.selectors import smart_group_members
from audiences.services import (
    SmartGroupInUse,
    smart_group_create,
    smart_group_delete,
    smart_group_freeze,
    smart_group_update,
)
from contacts.models import GroupMembership

from .contacts import with_relations
from .groups import get_group, save_group
from .schemas import ERRORS, ContactListOut, ErrorOut, GroupIn, GroupOut, Id, Input

router = Router(tags=["smart groups"])

DEFINITION_HELP = (
    "Conditions are objects {field, op, value}. Fields: first_name, last_name, email, phone, "
    "company, timezone, status, opt_out_reason, tag, group, created_at, metadata.<key>, "
    "last_contacted_at, replied, delivered, clicked (a tracked link, previews not counted), "
    "converted. Ops: eq, neq, contains, set, not_set, gt, gte, lt, "
    "lte, in, not_in, within_days, not_within_days (which a field takes is in the 422 answer "
    "when one does not fit). Text compares without regard to case; a number value compares "
    "custom fields as numbers, a YYYY-MM-DD value as dates; within_days N is the last N days "
    "(-N: the next N days, for custom date fields). A contact without a custom field matches "
    "no positive operator (eq, set, gt…) and every negative one (neq, not_set, not_in…)."
)
Conditions = Annotated[list[Any], Field(description=DEFINITION_HELP)]
GroupIds = Annotated[list[Any], Field(description="Contacts in any of these groups are left out.")]


class SmartGroupIn(Input):
    name: Annotated[str, Field(max_length=500)]
    match: Literal["all", "any"] = "all"
    conditions: Conditions = []
    exclude_group_ids: GroupIds = []


class SmartGroupPatch(Input):
    name: Annotated[str, Field(max_length=500)] | None = None
    match: Literal["all", "any"] | None = None
    conditions: Conditions | None = None
    exclude_group_ids: GroupIds | None = None


class SmartGroupOut(Schema):
    id: int
    name: str
    match: Literal["all", "any"]
    conditions: list[dict[str, Any]]
    exclude_group_ids: list[int]
    created_at: datetime
    updated_at: datetime


class SmartGroupListOut(Schema):
    items: list[SmartGroupOut]
    count: int


class MatchingOut(Schema):
    count: int = Field(description="Contacts the smart group matches now.")


def get_smart_group(request, smart_group_id: int) -> SmartGroup:
    return get_object_or_404(SmartGroup.objects.for_workspace(request.workspace), pk=smart_group_id)


def saved(call, **kwargs):
    """Run a smart-group service; a taken name is a 409, any other problem a 422 naming its
    place in the body (e.g. `conditions.2.op`)."""
    try:
        return call(**kwargs)
    except ValidationError as exc:
        errors = exc.message_dict
        duplicate = any(e.code == "duplicate" for e in exc.error_dict.get("name", []))
        if duplicate:
            return Status(409, {"message": "Name already used.", "errors": errors})
        raise SchemaError(
            [{"loc": (place,), "msg": msg} for place, msgs in errors.items() for msg in msgs]
        ) from None


@router.post("", response={201: SmartGroupOut, 409: ErrorOut, **ERRORS}, summary="Create")
def smart_group_add(request, payload: SmartGroupIn):
    data = payload.model_dump()
    name = data.pop("name")
    result = saved(smart_group_create, workspace=request.workspace, name=name, definition=data)
    return result if isinstance(result, Status) else Status(201, result)


@router.get("", response={200: SmartGroupListOut, **ERRORS}, summary="List smart groups")
def smart_group_list(
    request,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
):
    """Smart groups by name (counts are per smart group: `GET …/{id}/count`)."""
    smart_groups = SmartGroup.objects.for_workspace(request.workspace)
    return {"items": list(smart_groups[offset : offset + limit]), "count": smart_groups.count()}


@router.get("/{smart_group_id}", response={200: SmartGroupOut, **ERRORS}, summary="Get")
def smart_group_detail(request, smart_group_id: Id):
    return get_smart_group(request, smart_group_id)


@router.patch(
    "/{smart_group_id}", response={200: SmartGroupOut, 409: ErrorOut, **ERRORS}, summary="Change"
)
def smart_group_patch(request, smart_group_id: Id, payload: SmartGroupPatch):
    """Changes the fields sent; `conditions` and `exclude_group_ids` are replaced whole."""
    smart_group = get_smart_group(request, smart_group_id)
    data = payload.model_dump(exclude_unset=True)
    name = data.pop("name", None)
    return saved(smart_group_update, smart_group=smart_group, name=name, definition=data or None)


@router.delete("/{smart_group_id}", response={204: None, 409: ErrorOut, **ERRORS}, summary="Delete")
def smart_group_remove(request, smart_group_id: Id, force: bool = False):
    """Deletes the saved filter; no contact changes. One that a scheduled, running or paused
    campaign targets is a 409 naming the campaigns in `errors.campaigns`, and is kept, unless
    `force=true`."""
    try:
        smart_group_delete(smart_group=get_smart_group(request, smart_group_id), force=force)
    except SmartGroupInUse as exc:
        body = {"message": "The smart group is in use.", "errors": {"campaigns": exc.users}}
        return Status(409, body)
    return Status(204, None)


@router.get("/{smart_group_id}/count", response={200: MatchingOut, **ERRORS}, summary="Count")
def smart_group_count(request, smart_group_id: Id):
    members = smart_group_members(smart_group=get_smart_group(request, smart_group_id))
    return {"count": members.order_by().count()}


@router.get(
    "/{smart_group_id}/contacts", response={200: ContactListOut, **ERRORS}, summary="Members"
)
def smart_group_contacts(
    request,
    smart_group_id: Id,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
):
    """The contacts it matches now, newest first, paged and counted like `GET /contacts`."""
    members = smart_group_members(smart_group=get_smart_group(request, smart_group_id))
    cap = settings.HERALD_API_COUNT_CAP
    counted = members.order_by().values("pk")[: cap + 1].count()
    items = list(with_relations(members)[offset : offset + limit])
    return {"items": items, "count": min(counted, cap), "count_capped": counted > cap}


@router.post(
    "/{smart_group_id}/freeze",
    response={201: GroupOut, 409: ErrorOut, **ERRORS},
    summary="Save as group",
)
def smart_group_to_group(request, smart_group_id: Id, payload: GroupIn):
    """A new static group with the contacts the smart group matches now (source `api`)."""
    smart_group = get_smart_group(request, smart_group_id)
    result = save_group(
        smart_group_freeze,
        smart_group=smart_group,
        name=payload.name,
        source=GroupMembership.Source.API,
    )
    if isinstance(result, Status):
        return result
    return Status(201, get_group(request, result.pk))
