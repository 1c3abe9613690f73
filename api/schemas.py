"""Request and response shapes shared by the API routers.

Input schemas list only the fields a client may set: anything else in a body (workspace,
status, carrier, ids, timestamps, unknown keys) is dropped by pydantic before a service sees
it, which is what keeps mass assignment out.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import Field, field_validator, model_validator

from contacts.models import Contact, ContactGroup

# Database ids are positive bigints; anything outside that range cannot exist (404, not 500).
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
IdList = Annotated[list[Id], Field(min_length=1, max_length=10_000)]
Text = Annotated[str | None, Field(max_length=1000)]


def unstorable_text(value: Any) -> bool:
    """True if a string in `value` holds NUL or a lone surrogate, which PostgreSQL cannot store.

    Walked with a stack, not recursion: JSON nested a few hundred deep must not be a 500.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item or not item.isascii() and _has_surrogate(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Input(Schema):
    """A request body or query: a JSON object whose text the database can store."""

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        # ninja's Schema wraps whatever it gets in a DjangoGetter that reads attributes (for
        # ORM instances), so a JSON list or string would pass as an empty object.
        raw = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(raw, dict):
            raise ValueError("Send a JSON object.")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if unstorable_text(value):
            raise ValueError("Text cannot contain NUL characters or invalid Unicode.")
        return value


class ErrorOut(Schema):
    message: str
    errors: dict[str, list[str]] = Field(
        default_factory=dict, description="Field name to messages; `__all__` for the whole item."
    )


# The error answers every endpoint documents (A6); each also lists its own 2xx and any 409.
class Paging(Input):
    """The window of a list: `limit` items from `offset` (answers are `{items, count}`)."""

    limit: Annotated[int, Field(ge=1, le=500)] = 100
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


def page_of(queryset, paging: Paging) -> dict:
    """One page of a queryset as a list answer: the items and how many there are in all."""
    items = list(queryset[paging.offset : paging.offset + paging.limit])
    return {"items": items, "count": queryset.count()}


ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut, 429: ErrorOut}

# For endpoints that answer a CSV file rather than JSON.
CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "The contacts as CSV (UTF-8 with BOM).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class ContactIn(Input):
    """Writable contact fields; every one optional (PUT and PATCH change only those sent)."""

    first_name: Text = None
    last_name: Text = None
    email: Text = Field(None, description="Stored lower-case; must be a valid address.")
    phone: Text = Field(
        None, description="E.164 (+14155551234) or national in the workspace's region."
    )
    company: Text = None
    timezone: Text = Field(None, description="IANA name; derived from the phone when empty.")
    metadata: dict[str, Any] | None = Field(None, description="Custom fields, name to value.")
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None = None


class ContactPatch(ContactIn):
    status: Literal["active", "opted_out"] | None = Field(
        None,
        description='"opted_out" opts the contact out with reason `manual`; "active" opts it '
        "back in. Other opt-out reasons are set by the system only.",
    )


class ContactOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str
    timezone: str
    carrier: str
    line_type: str
    is_valid: bool
    status: Literal["active", "opted_out"]
    opt_out_reason: str
    opted_out_at: datetime | None
    metadata: dict[str, Any]
    tags: list[str]
    group_ids: list[int]
    created_at: datetime
    updated_at: datetime
    click_count: int = Field(description="Clicks on tracked links (bots and previews not counted).")
    last_clicked_at: datetime | None
    conversion_count: int
    revenue_total: float = Field(description="Sum of the conversions' revenue, workspace currency.")
    last_revenue_at: datetime | None

    @staticmethod
    def resolve_tags(obj: Contact) -> list[str]:
        return sorted(tag.name for tag in obj.tags.all())

    @staticmethod
    def resolve_group_ids(obj: Contact) -> list[int]:
        return sorted(m.group_id for m in obj.memberships.all())


class ContactListOut(Schema):
    items: list[ContactOut]
    count: int = Field(description="Matches, counted up to HERALD_API_COUNT_CAP (10,000).")
    count_capped: bool = Field(
        description="True when there are at least `count` matches and counting stopped there."
    )


class IdsIn(Input):
    ids: IdList


class DeletedOut(Schema):
    deleted: int


class GroupIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=5000)] = ""


class GroupPatch(Input):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None


class GroupOut(Schema):
    id: int
    name: str
    description: str
    member_count: int
    created_at: datetime

    @staticmethod
    def resolve_member_count(obj: ContactGroup) -> int:
        count = getattr(obj, "member_count", None)
        return obj.memberships.count() if count is None else count


class GroupListOut(Schema):
    items: list[GroupOut]
    count: int


class GroupContactsIn(Input):
    contacts: Annotated[list[ContactIn], Field(min_length=1, max_length=1000)] = Field(
        description="Up to 1,000 contacts, each with the fields of POST /contacts."
    )
    duplicate_strategy: Literal["skip", "update", "create"] = Field(
        "skip",
        description="A contact with the phone OR email of an existing one (or of an earlier "
        "item): skip keeps the existing one (still added to the group), update overwrites it "
        "with the item's non-empty values and merges metadata, create makes a separate one.",
    )


class ItemErrorOut(Schema):
    index: int
    errors: dict[str, list[str]]


class GroupContactsOut(Schema):
    created: int
    updated: int
    duplicates: int = Field(description="Duplicates kept unchanged (skip).")
    invalid: int
    errors: list[ItemErrorOut]
    contact_ids: list[int | None] = Field(
        description="For each item in order, the contact it became (null when invalid)."
    )


class ContactIdsIn(Input):
    contact_ids: IdList


class MoveIn(Input):
    contact_ids: IdList
    target_group_id: Id


class CountOut(Schema):
    count: int = Field(description="How many contacts were affected.")
