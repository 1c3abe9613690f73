"""GET /api/v1/campaigns/contacts/{id}/activity (A2): a contact's history in seed 000's shape."""

from datetime import datetime
from typing import Annotated

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from contacts.models import Contact
from messaging.selectors import contact_activity, contact_metrics

from .schemas import ErrorOut, Id

router = Router(tags=["contacts"])


class ActivityOut(Schema):
    type: str = Field(
        description="sms_sent, email_sent, call_made, sms_skipped, email_skipped, call_skipped, "
        "sms_received, opted_out, opted_in, contact_created, link_clicked (`status`: human, or "
        "bot / head / scanner for previews and prefetches, which are not counted) or "
        "conversion (`detail`: name, revenue, attribution)."
    )
    campaign: str | None = None
    message: str | None = None
    timestamp: datetime
    status: str | None = None
    channel: str | None = None
    detail: str | None = None


class ContactActivityOut(Schema):
    contact_id: int
    name: str
    total_campaigns: int
    total_messages_sent: int
    total_replies: int
    last_contacted: datetime | None
    reachability: float | None = Field(description="% of sent messages delivered.")
    response_rate: float | None = Field(description="% of sent messages that got a reply.")
    average_response_seconds: float | None
    opted_out: bool
    opt_out_reason: str | None
    page: int
    has_next: bool
    activity: list[ActivityOut]


class ActivityQuery(Schema):
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


@router.get(
    "/{contact_id}/activity",
    response={200: ContactActivityOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="A contact's messages, replies and opt-out events, oldest first",
)
def activity(request, contact_id: Id, query: Query[ActivityQuery]):
    contact = get_object_or_404(Contact.objects.for_workspace(request.workspace), pk=contact_id)
    metrics = contact_metrics(workspace=request.workspace, contact_id=contact.pk)
    page = contact_activity(
        workspace=request.workspace,
        contact_id=contact.pk,
        page=query.page,
        per_page=query.per_page,
        newest_first=False,
    )
    return {
        "contact_id": contact.pk,
        "name": contact.full_name or str(contact),
        "total_campaigns": metrics.total_campaigns,
        "total_messages_sent": metrics.total_messages_sent,
        "total_replies": metrics.total_replies,
        "last_contacted": metrics.last_contacted,
        "reachability": metrics.reachability,
        "response_rate": metrics.response_rate,
        "average_response_seconds": metrics.average_response_seconds,
        "opted_out": contact.is_opted_out,
        "opt_out_reason": contact.opt_out_reason or None,
        "page": page.page,
        "has_next": page.has_next,
        "activity": [
            {
                "type": item.type,
                "campaign": item.campaign or None,
                "message": item.message or None,
                "timestamp": item.timestamp,
                "status": item.status or None,
                "channel": item.channel or None,
                "detail": item.detail or None,
            }
            for item in page.items
        ],
    }
