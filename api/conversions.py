"""POST /api/v1/conversions (E3): report a conversion; Herald attributes it to a message."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Router, Schema, Status
from pydantic import Field

from engagement.conversions import IdempotencyConflict, TargetNotFound, conversion_create

from .errors import NotInWorkspace
from .schemas import ERRORS, ErrorOut, Id, Input

router = Router(tags=["conversions"])


class ConversionIn(Input):
    contact_id: Id | None = Field(None, description="The contact, by id …")
    phone: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="… or by phone (E.164 or national in the workspace's region) …"
    )
    email: Annotated[str, Field(max_length=254)] | None = Field(None, description="… or email …")
    click_code: Annotated[str, Field(max_length=64)] | None = Field(
        None,
        description="… or by the code of a tracked link they followed (the landing page's "
        "`hc` query parameter when the campaign adds it): exactly one of the four.",
    )
    name: Annotated[str, Field(max_length=100)] = Field(description="e.g. `purchase`, `signup`.")
    revenue: Decimal | None = Field(
        None, description="Amount in the workspace's currency; 0 or more, at most 1e9."
    )
    currency: Annotated[str, Field(max_length=10)] | None = Field(
        None, description="ISO 4217 code; must be the workspace's (the default)."
    )
    occurred_at: datetime | None = Field(
        None, description="When it happened (default now; without an offset, UTC); not future."
    )
    idempotency_key: Annotated[str, Field(max_length=255)] | None = Field(
        None,
        description="Send the same key again (a retry) and get the first conversion back, "
        "with nothing changed.",
    )


class ConversionOut(Schema):
    id: int
    contact_id: int | None
    campaign_id: int | None
    message_id: int | None
    attributed_to: Literal["click", "delivered"] | None = Field(
        description="`click`: the contact's last click within the click window (5 days by "
        "default); `delivered`: else the last message delivered within the delivered window "
        "(24 hours); null: neither (the conversion still counts on the contact)."
    )


@router.post(
    "",
    response={200: ConversionOut, 201: ConversionOut, 409: ErrorOut, **ERRORS},
    summary="Report a conversion",
    description="201 with the new conversion, or 200 with the first one when the "
    "`idempotency_key` was seen before; 409 when that key came with other data; 404 when "
    "the contact or click code is not in the workspace.",
)
def create(request, payload: ConversionIn):
    data = payload.model_dump()
    identifier = {name: data.pop(name) for name in ("contact_id", "phone", "email", "click_code")}
    try:
        conversion, created = conversion_create(
            workspace=request.workspace,
            name=data["name"],
            identifier=identifier,
            revenue=data["revenue"],
            currency=data["currency"] or "",
            occurred_at=data["occurred_at"],
            idempotency_key=data["idempotency_key"] or "",
        )
    except TargetNotFound as exc:
        raise NotInWorkspace(exc.field, [exc.value]) from None
    except IdempotencyConflict as exc:
        return Status(409, {"message": str(exc), "errors": {"idempotency_key": [str(exc)]}})
    body = {
        "id": conversion.pk,
        "contact_id": conversion.contact_id,
        "campaign_id": conversion.campaign_id,
        "message_id": conversion.message_id,
        "attributed_to": conversion.attributed_to or None,
    }
    return Status(201 if created else 200, body)
