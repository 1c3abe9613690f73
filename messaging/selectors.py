"""Reads for a contact's history (C11) and metrics (C12), shared by the page and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Avg, Count, Max, Q
from django.db.models.functions import Coalesce
from django.utils.module_loading import import_string

from accounts.models import Workspace
from contacts.models import Contact, ContactEvent

from .models import InboundMessage, Message

_SENT_TYPE = {"sms": "sms_sent", "email": "email_sent", "voice": "call_made"}
_SKIPPED_TYPE = {"sms": "sms_skipped", "email": "email_skipped", "voice": "call_skipped"}
_EVENT_TYPE = {"opted_out": "opted_out", "opted_in": "opted_in", "created": "contact_created"}
_LABELS = {
    "sms_sent": "SMS sent",
    "email_sent": "Email sent",
    "call_made": "Call",
    "sms_skipped": "SMS skipped",
    "email_skipped": "Email skipped",
    "call_skipped": "Call skipped",
    "sms_received": "Reply received",
    "opted_out": "Opted out",
    "opted_in": "Opted back in",
    "contact_created": "Contact created",
}
# Messages still waiting in the outbox are not history yet.
_NOT_HISTORY = [Message.Status.QUEUED, Message.Status.SENDING]


@dataclass(frozen=True)
class ActivityItem:
    type: str  # sms_sent, email_sent, call_made, *_skipped, sms_received, opted_out, ...
    timestamp: datetime
    message: str = ""
    status: str = ""
    status_label: str = ""
    channel: str = ""
    campaign: str = ""
    campaign_id: int | None = None
    subject: str = ""
    detail: str = ""
    error: str = ""
    delivered_at: datetime | None = None
    key: tuple = ()

    @property
    def label(self) -> str:
        return _LABELS.get(self.type, self.type.replace("_", " ").capitalize())

    @property
    def is_outbound(self) -> bool:
        return self.type in _SENT_TYPE.values() or self.type in _SKIPPED_TYPE.values()

    @property
    def is_event(self) -> bool:
        return self.type in _EVENT_TYPE.values()


@dataclass(frozen=True)
class ActivityPage:
    items: list[ActivityItem]
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _messages(workspace: Workspace, contact_id: int, newest_first: bool, limit: int):
    order = "-ts" if newest_first else "ts"
    rows = (
        Message.objects.for_workspace(workspace)
        .filter(contact_id=contact_id)
        .exclude(status__in=_NOT_HISTORY)
        .annotate(ts=Coalesce("sent_at", "failed_at", "updated_at"))
        .select_related("campaign")
        .order_by(order, order.replace("ts", "id"))[:limit]
    )
    for m in rows:
        skipped = m.status == Message.Status.SKIPPED
        yield ActivityItem(
            type=(_SKIPPED_TYPE if skipped else _SENT_TYPE)[m.channel],
            timestamp=m.ts,
            message=m.body,
            status=m.status,
            status_label=m.get_skip_reason_display() if skipped else m.get_status_display(),
            channel=m.channel,
            campaign=m.campaign.name if m.campaign else "",
            campaign_id=m.campaign_id,
            subject=m.subject,
            error=m.last_error if m.status in ("failed", "undelivered") else "",
            delivered_at=m.delivered_at,
            key=("m", m.pk),
        )


def _inbound(workspace: Workspace, contact_id: int, newest_first: bool, limit: int):
    order = ("-received_at", "-id") if newest_first else ("received_at", "id")
    rows = (
        InboundMessage.objects.for_workspace(workspace)
        .filter(contact_id=contact_id)
        .select_related("in_reply_to__campaign")
        .order_by(*order)[:limit]
    )
    for i in rows:
        campaign = i.in_reply_to.campaign if i.in_reply_to and i.in_reply_to.campaign else None
        yield ActivityItem(
            type="sms_received",
            timestamp=i.received_at,
            message=i.body,
            status="received",
            status_label=i.get_action_display() if i.action else "Reply",
            channel="sms",
            campaign=campaign.name if campaign else "",
            campaign_id=campaign.pk if campaign else None,
            key=("i", i.pk),
        )


def _events(workspace: Workspace, contact_id: int, newest_first: bool, limit: int):
    order = ("-created_at", "-id") if newest_first else ("created_at", "id")
    rows = ContactEvent.objects.for_workspace(workspace).filter(contact_id=contact_id)
    for e in rows.select_related("actor").order_by(*order)[:limit]:
        reason = (
            Contact.OptOutReason(e.reason).label
            if e.reason in Contact.OptOutReason.values
            else e.reason
        )
        by = f" by {e.actor}" if e.actor_id else ""
        yield ActivityItem(
            type=_EVENT_TYPE.get(e.kind, e.kind),
            timestamp=e.created_at,
            status=e.kind,
            detail=", ".join(part for part in (reason, e.detail) if part) + by,
            key=("e", e.pk),
        )


def contact_activity(
    *,
    workspace: Workspace,
    contact_id: int,
    page: int = 1,
    per_page: int = 25,
    newest_first: bool = True,
) -> ActivityPage:
    """Messages sent, replies and opt-out/in events of one contact, merged in time order,
    with the entries of the apps above messaging (clicks, conversions...): each function named
    in settings.HERALD_ACTIVITY_SOURCES is called like the readers here and yields
    ActivityItems.

    Each source is read only up to the end of the requested page (indexed by contact and
    time), so the cost grows with the page number, not with the contact's whole history.
    """
    page = max(page, 1)
    end = page * per_page + 1  # one more than needed tells whether a next page exists
    readers = [_messages, _inbound, _events]
    readers += [import_string(path) for path in settings.HERALD_ACTIVITY_SOURCES]
    items = [item for read in readers for item in read(workspace, contact_id, newest_first, end)]
    items.sort(key=lambda item: (item.timestamp, item.key), reverse=newest_first)
    start = (page - 1) * per_page
    return ActivityPage(
        items=items[start : start + per_page],
        page=page,
        per_page=per_page,
        has_next=len(items) > start + per_page,
    )


@dataclass(frozen=True)
class ContactMetrics:
    total_campaigns: int
    total_messages_sent: int
    delivered: int
    replied_messages: int
    total_replies: int
    last_contacted: datetime | None
    average_response_seconds: float | None

    @property
    def reachability(self) -> float | None:
        """Percent of sent messages that were delivered (None before anything was sent)."""
        if not self.total_messages_sent:
            return None
        return round(100 * self.delivered / self.total_messages_sent, 1)

    @property
    def average_response_display(self) -> str:
        """The average response time for people: "45s", "12m", "3h 5m", "2d 4h"."""
        if self.average_response_seconds is None:
            return ""
        seconds = round(self.average_response_seconds)
        if seconds < 60:
            return f"{seconds}s"
        minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
        if minutes < 60:
            return f"{minutes}m"
        if hours < 24:
            return f"{hours}h {minutes % 60}m"
        return f"{days}d {hours % 24}h"

    @property
    def response_rate(self) -> float | None:
        """Percent of sent messages that got a reply."""
        if not self.total_messages_sent:
            return None
        return round(100 * self.replied_messages / self.total_messages_sent, 1)


def contact_metrics(*, workspace: Workspace, contact_id: int) -> ContactMetrics:
    sent = Message.objects.for_workspace(workspace).filter(
        contact_id=contact_id, sent_at__isnull=False
    )
    totals = sent.aggregate(
        messages=Count("id"),
        campaigns=Count("campaign", distinct=True),
        delivered=Count("id", filter=Q(status__in=["delivered", "read"])),
        replied=Count("id", filter=Q(replied_at__isnull=False)),
        last=Max("sent_at"),
    )
    replies = InboundMessage.objects.for_workspace(workspace).filter(contact_id=contact_id)
    reply_totals = replies.aggregate(count=Count("id"), avg=Avg("response_seconds"))
    return ContactMetrics(
        total_campaigns=totals["campaigns"],
        total_messages_sent=totals["messages"],
        delivered=totals["delivered"],
        replied_messages=totals["replied"],
        total_replies=reply_totals["count"],
        last_contacted=totals["last"],
        average_response_seconds=reply_totals["avg"],
    )
