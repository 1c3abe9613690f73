"""Reads of clicks and conversions: a contact's activity entries (C11, E4)."""

from __future__ import annotations

from collections.abc import Iterator

from accounts.models import Workspace
from core.money import money
from messaging.selectors import ActivityItem

from .models import Click, Conversion


def activity_items(
    workspace: Workspace, contact_id: int, newest_first: bool, limit: int
) -> Iterator[ActivityItem]:
    """The contact's clicks and conversions, for messaging.selectors.contact_activity
    (named in settings.HERALD_ACTIVITY_SOURCES): at most `limit` of each, in time order."""
    yield from _clicks(workspace, contact_id, newest_first, limit)
    yield from _conversions(workspace, contact_id, newest_first, limit)


def _clicks(workspace: Workspace, contact_id: int, newest_first: bool, limit: int):
    order = ("-clicked_at", "-id") if newest_first else ("clicked_at", "id")
    rows = (
        Click.objects.for_workspace(workspace)
        .filter(contact_id=contact_id)
        .select_related("link", "campaign")
        .order_by(*order)[:limit]
    )
    for click in rows:
        yield ActivityItem(
            type="link_clicked",
            timestamp=click.clicked_at,
            message=click.link.url,
            status=click.kind,
            # People's clicks need no badge; the others say what they were.
            status_label="" if click.counted else click.get_kind_display(),
            campaign=click.campaign.name if click.campaign else "",
            campaign_id=click.campaign_id,
            key=("k", click.pk),
        )


def _conversions(workspace: Workspace, contact_id: int, newest_first: bool, limit: int):
    order = ("-occurred_at", "-id") if newest_first else ("occurred_at", "id")
    rows = (
        Conversion.objects.for_workspace(workspace)
        .filter(contact_id=contact_id)
        .select_related("campaign")
        .order_by(*order)[:limit]
    )
    for conversion in rows:
        credit = ""
        if conversion.attributed_to:
            source = conversion.campaign.name if conversion.campaign else "a message"
            credit = f"credited to {source} ({conversion.get_attributed_to_display().lower()})"
        yield ActivityItem(
            type="conversion",
            timestamp=conversion.occurred_at,
            status="converted",
            detail=", ".join(
                part
                for part in (
                    conversion.name,
                    money(conversion.revenue, conversion.currency),
                    credit,
                )
                if part
            ),
            campaign=conversion.campaign.name if conversion.campaign else "",
            campaign_id=conversion.campaign_id,
            key=("v", conversion.pk),
        )
