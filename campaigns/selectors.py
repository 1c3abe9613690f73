"""Campaign reads: results (K10), live counts (K9), the funnel chart, builder estimates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, Max, Min, Q
from django.utils import timezone

from audiences.selectors import smart_group_members
from contacts.export import metadata_keys
from contacts.models import Contact, GroupMembership
from conversations.selectors import campaign_conversations
from conversations.voice_selectors import call_results
from core.templatetags.when import when
from engagement.selectors import (
    campaign_engagement,
    campaign_engagement_series,
    campaign_engagement_times,
)
from engagement.tracking import MessageLinks
from messaging import templating
from messaging.backends.email import email_parts
from messaging.caps import counted_messages, workspace_cap
from messaging.models import InboundMessage, Message

from . import occurrences, scheduling
from .models import Campaign, CampaignRun
from .occurrences import first_run_wall

S = Message.Status
PENDING = (S.QUEUED, S.SENDING, S.UNKNOWN)
SENT_OR_BETTER = (S.SENT, S.DELIVERED, S.READ, S.UNDELIVERED)
DELIVERED = (S.DELIVERED, S.READ)
FAILED = (S.FAILED, S.UNDELIVERED)
CHART_CACHE_SECONDS = 10


def campaign_results(*, campaign: Campaign, run: CampaignRun | None = None) -> dict:
    """The results shape of the API (seed 001 plus pending/skipped), overall or for one run."""
    messages = Message.objects.filter(campaign=campaign)
    if run is not None:
        messages = messages.filter(run=run)
    # One pass over the campaign's messages: counts by status and replies together.
    rows = (
        messages.values_list("status")
        .annotate(
            n=Count("id"),
            replied=Count("id", filter=Q(replied_at__isnull=False)),
            capped=Count("id", filter=Q(skip_reason=Message.SkipReason.CAPPED)),
        )
        .order_by()
    )
    counts = {status: n for status, n, _, _ in rows}
    replied = sum(r for _, _, r, _ in rows)
    capped = sum(c for _, _, _, c in rows)
    total_messages = sum(counts.values())
    not_started = run is None and not campaign.runs.exists()
    if not_started:
        total = campaign_targets(campaign=campaign).order_by().count()
    else:
        total = total_messages
    sent = sum(counts.get(s, 0) for s in SENT_OR_BETTER)
    delivered = sum(counts.get(s, 0) for s in DELIVERED)
    failed = counts.get(S.FAILED, 0) + counts.get(S.UNDELIVERED, 0)
    pending = sum(counts.get(s, 0) for s in PENDING)
    if not_started:
        pending = total
    avg = InboundMessage.objects.filter(
        in_reply_to__in=messages, response_seconds__isnull=False
    ).aggregate(avg=Avg("response_seconds"))["avg"]
    engaged = campaign_engagement(campaign_id=campaign.id, run_id=run.id if run else None)
    revenue = engaged["revenue"]
    results = {
        "campaign_id": campaign.id,
        "status": campaign.state,
        "total_contacts": total,
        "pending": pending,
        "sent": sent,
        "delivered": delivered,
        "replied": replied,
        "failed": failed,
        "skipped": counts.get(S.SKIPPED, 0),
        "capped": capped,  # of the skipped: at the frequency cap (H3)
        "unknown": counts.get(S.UNKNOWN, 0),
        # Seed 001's strings ("29.3%", "4m 23s"), the numbers beside them.
        "reply_rate": f"{100 * replied / sent:.1f}%" if sent else "0.0%",
        "reply_rate_value": round(replied / sent, 4) if sent else 0.0,
        "average_response_time": duration_display(avg) if avg is not None else None,
        "average_response_seconds": round(avg, 1) if avg is not None else None,
        # E4: people's clicks (previews not counted), click rate of the delivered, and the
        # conversions credited to the campaign with their revenue (workspace currency).
        "clicks": engaged["clicks"],
        "unique_clicks": engaged["unique_clicks"],
        "click_rate": round(engaged["unique_clicks"] / delivered, 4) if delivered else 0.0,
        "conversions": engaged["conversions"],
        "revenue": float(revenue),
        "revenue_per_message": float(round(revenue / sent, 4)) if sent else 0.0,
        "currency": campaign.workspace.currency,
    }
    if run is None:  # V1: the threads its messages started (not kept per run)
        results.update(campaign_conversations(campaign_id=campaign.id))
    if campaign.channel == "voice":  # V6: how the calls went
        results["calls"] = call_results(campaign_id=campaign.id, run_id=run.id if run else None)
    return results


def duration_display(seconds: float) -> str:
    """A duration as people read it: "45s", "4m 23s", "2h 5m 0s", "3d 1h 2m"."""
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def campaign_progress(results: dict) -> int:
    """Percent of messages that reached an outcome (sent, failed or skipped)."""
    total = results["total_contacts"]
    if not total:
        return 0
    return min(100, round(100 * (total - results["pending"]) / total))


@dataclass(frozen=True)
class ChartSeries:
    name: str
    css: str
    points: list[tuple[float, float]]  # (x, y) in the SVG's coordinates


def campaign_chart(*, campaign: Campaign, width: int = 640, height: int = 180, buckets: int = 24):
    """Cumulative sent / delivered / failed over time as SVG polylines (server-rendered).

    Cached a few seconds: the campaign page polls every 3 s and a big campaign's chart scans
    all its messages.
    """
    key = f"campaign-chart:{campaign.pk}:{width}:{height}:{buckets}"
    chart = cache.get(key)
    if chart is None:
        chart = _campaign_chart(campaign, width, height, buckets)
        cache.set(key, chart, CHART_CACHE_SECONDS)
    return chart


def _campaign_chart(campaign: Campaign, width: int, height: int, buckets: int):
    messages = Message.objects.filter(campaign=campaign)
    bounds = messages.aggregate(
        start=Min("sent_at"),
        end_sent=Max("sent_at"),
        end_failed=Max("failed_at"),
        start_failed=Min("failed_at"),
        end_delivered=Max("delivered_at"),
    )
    starts = [v for v in (bounds["start"], bounds["start_failed"]) if v]
    ends = [v for v in (bounds["end_sent"], bounds["end_failed"], bounds["end_delivered"]) if v]
    if not starts or not ends:
        return None
    # Clicks and conversions come later (days, for some): the chart runs until the last one.
    ends += [
        span[1] for span in campaign_engagement_times(campaign_id=campaign.pk).values() if span
    ]
    start, end = min(starts), max(ends)
    # The real span, however short: a small campaign sent in a third of a second drawn over a
    # whole second put its lines at the left and left the end label wrong.
    span = max((end - start).total_seconds(), 0.001)
    step = span / buckets
    edges = [start + timedelta(seconds=step * (i + 1)) for i in range(buckets)]
    series_spec = [
        ("Sent", "chart-sent", "sent_at", Q()),
        ("Delivered", "chart-delivered", "delivered_at", Q()),
        ("Failed", "chart-failed", "failed_at", Q(status__in=FAILED)),
    ]
    raw = {}
    for name, _css, field, extra in series_spec:
        filters = Q(**{f"{field}__isnull": False}) & extra
        aggregates = {
            f"b{i}": Count("id", filter=Q(**{f"{field}__lte": edge}))
            for i, edge in enumerate(edges)
        }
        row = messages.filter(filters).aggregate(**aggregates)
        raw[name] = [row[f"b{i}"] for i in range(buckets)]
    raw.update(campaign_engagement_series(campaign_id=campaign.pk, edges=edges))
    series_spec += [
        ("Clicked", "chart-clicked", "", Q()),
        ("Converted", "chart-converted", "", Q()),
    ]
    top = max(max(values) for values in raw.values()) or 1
    series = []
    for name, css, _field, _extra in series_spec:
        points = [
            (round(width * (i + 1) / buckets, 1), round(height - height * v / top, 1))
            for i, v in enumerate(raw[name])
        ]
        series.append(ChartSeries(name, css, [(0.0, float(height)), *points]))
    return {
        "series": series,
        "width": width,
        "height": height,
        "start": start,
        "end": end,
        "top": top,
        "totals": {name: values[-1] for name, values in raw.items()},
    }


def campaign_runs(*, campaign: Campaign) -> list[dict]:
    return [
        {"run": run, "results": campaign_results(campaign=campaign, run=run)}
        for run in campaign.runs.order_by("-occurrence_at")[:20]
    ]


def campaign_next_runs(*, campaign: Campaign, count: int = 5) -> list[str]:
    """Upcoming runs as pages list them: in the workspace's zone with the zone named, or, for
    contact_local, the wall time each contact receives it at (its instant differs per zone)."""
    if campaign.timezone == scheduling.CONTACT_LOCAL:
        return [
            f"{wall:%a %Y-%m-%d %H:%M} in each contact's zone"
            for wall in occurrences.next_walls(campaign, count)
        ]
    return [
        f"{timezone.localtime(at):%a} {when(at)}" for at in occurrences.next_runs(campaign, count)
    ]


def campaign_waiting(*, campaign: Campaign, at: datetime | None = None) -> list[str]:
    """Why queued messages are not going out yet, in words: waiting is not stalled (K6, K9).

    Counts the messages of unpaused runs whose send time is still ahead, split into first
    attempts (held by quiet hours, the sending window or each contact's local time) and
    retries, with when the next one goes.
    """
    at = at or timezone.now()
    ahead = Message.objects.filter(
        campaign=campaign, status=S.QUEUED, send_after__gt=at, run__paused=False
    )
    agg = ahead.aggregate(
        first=Count("id", filter=Q(attempts=0)),
        first_at=Min("send_after", filter=Q(attempts=0)),
        retries=Count("id", filter=Q(attempts__gt=0)),
        retry_at=Min("send_after", filter=Q(attempts__gt=0)),
    )
    lines = []
    if agg["first"]:
        lines.append(f"{agg['first']:,} {_waiting_for(campaign, agg['first_at'])}")
    if agg["retries"]:
        lines.append(f"{agg['retries']:,} waiting to retry — next attempt {when(agg['retry_at'])}")
    return lines


def _waiting_for(campaign: Campaign, first_at: datetime) -> str:
    window, quiet = occurrences.campaign_window(campaign)
    if campaign.timezone == scheduling.CONTACT_LOCAL:
        return f"waiting for each contact's local send time — next send {when(first_at)}"
    if quiet:  # the workspace's quiet hours, in each recipient's zone
        return f"waiting for quiet hours — next send {window.start_hour:02d}:00 recipient-local"
    return f"waiting for the sending window — next send {when(first_at)}"


# Builder estimates ----------------------------------------------------------------------------


def campaign_targets(*, campaign: Campaign, now: datetime | None = None):
    """The contacts the campaign targets now: its group's members, or those its smart group
    matches (G2); nobody once the group or smart group is deleted."""
    if campaign.smart_group_id:
        return smart_group_members(smart_group=campaign.smart_group, now=now)
    if campaign.group_id:
        return Contact.objects.filter(memberships__group_id=campaign.group_id)
    return Contact.objects.none()


def campaign_custom_fields(*, campaign: Campaign, scan: int = 5_000) -> list[str]:
    """The custom fields (metadata keys) its recipients have, for the builder's variables
    hint: those of the first `scan` contacts it targets."""
    ids = campaign_targets(campaign=campaign).order_by("pk").values("pk")[:scan]
    return metadata_keys(Contact.objects.filter(pk__in=ids))


def campaign_sample_contact(*, campaign: Campaign) -> Contact | None:
    """The contact the builder counts and test-sends with: the first active one it targets."""
    targets = campaign_targets(campaign=campaign).filter(status=Contact.Status.ACTIVE)
    return targets.order_by("pk").first()


def campaign_email_preview(*, campaign: Campaign) -> str:
    """The email's HTML document as the first recipient (or a sample person) gets it: values
    filled in and escaped, tracked links in their short form, the unsubscribe footer."""
    contact = campaign_sample_contact(campaign=campaign)
    values = [getattr(contact, name) for name in templating.CONTACT_FIELDS] if contact else []
    if contact is None:
        values = ["Alex", "Sample", "", "", "Example Inc."]
    context = _context(campaign, *values, contact.metadata if contact else {})
    body, html = campaign.body_template, campaign.html_template
    if campaign.tracks_links:
        links = MessageLinks(body=body, html=html)
        links.preview(context)
        body, html = links.body, links.html
    _, document = email_parts(
        body=templating.render(body, context),
        html_body=templating.render(html, context, escape_html=True),
        link="#unsubscribe",
    )
    return document


def group_audience(*, campaign: Campaign, sample: int = 3, scan_limit: int = 50_000) -> dict:
    """Before launch: who will be skipped, who lacks a variable, who waits for quiet hours."""
    members = campaign_targets(campaign=campaign).order_by()
    field = "email" if campaign.channel == "email" else "phone"
    active, no_address = Q(status=Contact.Status.ACTIVE), Q(**{field: ""})
    # One pass over the audience for every count: a smart group's WHERE is evaluated once,
    # not once per count (a count over a million contacts measured about a second).
    counts = members.aggregate(
        total=Count("pk"),
        opted_out=Count("pk", filter=Q(status=Contact.Status.OPTED_OUT)),
        no_address=Count("pk", filter=active & no_address),
        invalid=Count("pk", filter=active & Q(is_valid=False) & ~no_address),
    )
    total, opted_out = counts["total"], counts["opted_out"]
    no_address, invalid = counts["no_address"], counts["invalid"]
    sendable = members.filter(active, is_valid=True).exclude(**{field: ""})
    missing, waiting, window, quiet = _audience_scan(campaign, sendable[:scan_limit])
    capped = _capped_now(campaign, sendable, scan_limit)
    return {
        "total": total,
        "opted_out": opted_out,
        "no_address": no_address,
        "invalid": invalid,
        "skipped": opted_out + no_address + invalid,
        "sendable": total - opted_out - no_address - invalid - capped,
        "capped": capped,
        "cap": workspace_cap(campaign.workspace),
        "missing": {k: v for k, v in missing.items() if v},
        "waiting_for_window": waiting,
        "quiet_hours": quiet,
        "window": window,
        "previews": _previews(campaign, sendable.order_by("id")[:sample]),
        "scanned_all": total <= scan_limit,
    }


def _capped_now(campaign: Campaign, sendable, scan_limit: int) -> int:
    """How many of the (first scan_limit) sendable contacts are at the frequency cap now, as
    the fan-out would count them (H3)."""
    cap = workspace_cap(campaign.workspace)
    if cap is None:
        return 0
    ids = sendable.order_by().values("id")[:scan_limit]
    counted = (
        counted_messages(cap=cap, at=timezone.now(), include_queued=True)
        .filter(contact_id__in=ids)
        .values("contact_id")
        .annotate(n=Count("id"))
        .filter(n__gte=cap.messages)
        .order_by()
    )
    return counted.count()


def _audience_scan(campaign: Campaign, contacts):
    """How many contacts lack each variable without a fallback, and how many would wait for
    the sending window (or quiet hours) at the first run."""
    templates = [campaign.body_template, campaign.subject, campaign.html_template]
    needed = [v.name for t in templates for v in templating.variables(t) if v.fallback is None]
    missing = {name: 0 for name in dict.fromkeys(needed)}
    window, quiet = occurrences.campaign_window(campaign)
    now, waiting, zone_waits = timezone.now(), 0, {}
    first_wall = first_run_wall(campaign)
    rows = contacts.values_list(*templating.CONTACT_FIELDS, "metadata", "timezone")
    for *fields, metadata, tz in rows.iterator(chunk_size=2000):
        if missing:
            context = _context(campaign, *fields, metadata)
            for name in missing:
                missing[name] += not str(context.get(name) or "")
        if not window.is_always_open:
            zone = _window_zone(campaign, quiet, tz, fields[3])
            if zone not in zone_waits:
                zone_waits[zone] = _waits(campaign, window, quiet, zone, first_wall, now)
            waiting += zone_waits[zone]
    return missing, waiting, window, quiet


def _previews(campaign: Campaign, contacts) -> list[dict]:
    """The message as the first few contacts will get it (tracked links in their short
    form, with a sample code)."""
    body = campaign.body_template
    links = MessageLinks(body=body) if campaign.tracks_links else None
    previews = []
    for contact in contacts:
        context = _context(
            campaign,
            *(getattr(contact, name) for name in templating.CONTACT_FIELDS),
            contact.metadata,
        )
        if links:
            links.preview(context)
        previews.append(
            {
                "contact": contact,
                "subject": templating.render(campaign.subject, context),
                "body": templating.render(links.body if links else body, context),
            }
        )
    return previews


def _context(campaign: Campaign, first, last, email, phone, company, metadata) -> dict:
    return templating.contact_context(
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        company=company,
        metadata=metadata,
        agent_name=campaign.agent.name if campaign.agent_id else "",
    )


def _waits(campaign, window, quiet: bool, zone: str, wall, now: datetime) -> bool:
    """Whether a recipient in `zone` would wait for the window at the first run."""
    common = {
        "wall": wall,
        "campaign_tz": campaign.timezone,
        "recipient_tz": zone,
        "window_in_recipient_zone": quiet,
        "not_before": now,
    }
    opened = scheduling.send_after_for(window=window, **common)
    return opened > scheduling.send_after_for(window=scheduling.ALWAYS, **common)


def _window_zone(campaign: Campaign, quiet: bool, tz: str, phone: str) -> str:
    if campaign.timezone == scheduling.CONTACT_LOCAL or quiet:
        return scheduling.contact_zone(
            contact_timezone=tz, phone=phone, workspace_timezone=campaign.workspace.timezone
        )
    return campaign.timezone


def group_member_count(*, group) -> int:
    return GroupMembership.objects.filter(group=group).count()
