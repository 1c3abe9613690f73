"""Reads of clicks and conversions: a campaign's engagement and a contact's activity (E4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Min, Q, Sum

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


def campaign_engagement(*, campaign_id: int, run_id: int | None = None) -> dict:
    """A campaign's (or one run's) people's clicks, clickers and conversions with revenue."""
    clicks = Click.objects.filter(campaign_id=campaign_id, kind=Click.Kind.HUMAN)
    conversions = Conversion.objects.filter(campaign_id=campaign_id)
    if run_id is not None:
        clicks, conversions = clicks.filter(run_id=run_id), conversions.filter(run_id=run_id)
    counted = clicks.aggregate(clicks=Count("id"), unique=Count("contact_id", distinct=True))
    converted = conversions.aggregate(n=Count("id"), revenue=Sum("revenue"))
    return {
        "clicks": counted["clicks"],
        "unique_clicks": counted["unique"],
        "conversions": converted["n"],
        "revenue": converted["revenue"] or Decimal(0),
    }


def campaign_engagement_times(*, campaign_id: int) -> dict[str, tuple[datetime, datetime] | None]:
    """The first and last time of the campaign's people's clicks and of its conversions."""
    spans = {}
    for name, rows, field in (
        (
            "clicked",
            Click.objects.filter(campaign_id=campaign_id, kind=Click.Kind.HUMAN),
            "clicked_at",
        ),
        ("converted", Conversion.objects.filter(campaign_id=campaign_id), "occurred_at"),
    ):
        bounds = rows.aggregate(first=Min(field), last=Max(field))
        spans[name] = (bounds["first"], bounds["last"]) if bounds["first"] else None
    return spans


def campaign_engagement_series(*, campaign_id: int, edges: list[datetime]) -> dict[str, list[int]]:
    """Cumulative people's clicks and conversions at each time in `edges` (the funnel chart)."""
    series = {}
    for name, rows, field in (
        (
            "Clicked",
            Click.objects.filter(campaign_id=campaign_id, kind=Click.Kind.HUMAN),
            "clicked_at",
        ),
        ("Converted", Conversion.objects.filter(campaign_id=campaign_id), "occurred_at"),
    ):
        totals = rows.aggregate(
            **{
                f"b{i}": Count("id", filter=Q(**{f"{field}__lte": edge}))
                for i, edge in enumerate(edges)
            }
        )
        series[name] = [totals[f"b{i}"] for i in range(len(edges))]
    return series


def message_engagement(*, campaign_id: int) -> dict[int, tuple[int, int, Decimal]]:
    """message id → (people's clicks, conversions, revenue) of the campaign's messages that
    have any: the per-recipient results CSV."""
    found: dict[int, list] = {}
    clicks = (
        Click.objects.filter(campaign_id=campaign_id, kind=Click.Kind.HUMAN)
        .values_list("message_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for message_id, n in clicks:
        found[message_id] = [n, 0, Decimal(0)]
    conversions = (
        Conversion.objects.filter(campaign_id=campaign_id, message_id__isnull=False)
        .values_list("message_id")
        .annotate(n=Count("id"), revenue=Sum("revenue"))
        .order_by()
    )
    for message_id, n, revenue in conversions:
        entry = found.setdefault(message_id, [0, 0, Decimal(0)])
        entry[1], entry[2] = n, revenue
    return {message_id: tuple(entry) for message_id, entry in found.items()}
