"""The campaign list and page: live counts (htmx polling), runs, state actions, results CSV."""

import itertools
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from conversations import voice_selectors
from core.csv import csv_response
from core.htmx import htmx_fragment, render_htmx
from core.money import minor_units
from engagement.selectors import message_engagement
from messaging.models import Message

from .. import lifecycle, occurrences, selectors, services
from ..estimate import page_estimate
from ..models import Campaign

LIVE = {"campaign-live": "live"}  # the fragment the campaign page polls for


def campaign_for(request: HttpRequest, pk: int) -> Campaign:
    """The workspace's campaign with this id, else 404."""
    return get_object_or_404(Campaign.objects.for_workspace(request.workspace), pk=pk)


def scheduled_local(campaign: Campaign) -> str:
    """The schedule's local wall time as a datetime-local input shows it."""
    wall = occurrences.campaign_first_wall(campaign)
    return wall.strftime("%Y-%m-%dT%H:%M") if wall else ""


@require_http_methods(["GET"])
@workspace_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.for_workspace(request.workspace).select_related(
        "group", "smart_group"
    )
    state = request.GET.get("state", "")
    if state not in Campaign.State.values:
        state = ""
    if state:
        campaigns = campaigns.filter(state=state)
    context = {
        "campaigns": campaigns[:200],
        "states": Campaign.State.choices,
        "state": state,
        "state_label": Campaign.State(state).label if state else "",
    }
    return render(request, "campaigns/campaign_list.html", context)


def _live_context(campaign: Campaign) -> dict:
    results = selectors.campaign_results(campaign=campaign)
    return {
        "campaign": campaign,
        "results": results,
        "progress": selectors.campaign_progress(results),
        "chart": selectors.campaign_chart(campaign=campaign),
        "waiting": selectors.campaign_waiting(campaign=campaign),
        "polling": campaign.state in (Campaign.State.RUNNING, Campaign.State.SCHEDULED),
    }


@require_http_methods(["GET"])
@workspace_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_for(request, pk)
    context = _live_context(campaign)
    if htmx_fragment(request, LIVE):  # the polling asks for the counts alone
        return render_htmx(request, "campaigns/campaign_detail.html", context, fragments=LIVE)
    context["runs"] = selectors.campaign_runs(campaign=campaign)
    context["next_runs"] = (
        selectors.campaign_next_runs(campaign=campaign) if campaign.is_recurring else []
    )
    context["scheduled_local"] = scheduled_local(campaign)
    context["estimate"] = page_estimate(campaign=campaign, pending=context["results"]["pending"])
    return render_htmx(request, "campaigns/campaign_detail.html", context)


@require_http_methods(["POST"])
@workspace_required
def campaign_state(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = campaign_for(request, pk)
    actions = {"pause": lifecycle.campaign_pause, "resume": lifecycle.campaign_resume}
    if action == "delete":
        try:
            lifecycle.campaign_delete(campaign=campaign)
        except lifecycle.StateError as exc:
            messages.error(request, str(exc))
            return redirect("campaigns:campaign-detail", pk=pk)
        messages.success(request, f"Campaign “{campaign.name}” deleted.")
        return redirect("campaigns:campaign-list")
    if action == "retry-failed":
        try:
            count = lifecycle.campaign_retry_failed(campaign=campaign)
        except lifecycle.StateError as exc:
            messages.error(request, str(exc))
        else:
            if count:
                messages.success(request, f"{count:,} failed message(s) queued again.")
            else:
                messages.info(request, "No failed messages to retry.")
        return redirect("campaigns:campaign-detail", pk=pk)
    if action not in actions:
        return redirect("campaigns:campaign-detail", pk=pk)
    try:
        actions[action](campaign=campaign)
        messages.success(request, "Campaign paused." if action == "pause" else "Campaign resumed.")
    except lifecycle.StateError as exc:
        messages.error(request, str(exc))
    return redirect("campaigns:campaign-detail", pk=pk)


@require_http_methods(["POST"])
@workspace_required
def campaign_rename(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_for(request, pk)
    try:
        services.campaign_update(campaign=campaign, data={"name": request.POST.get("name", "")})
        messages.success(request, "Saved.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("campaigns:campaign-detail", pk=pk)


# The results CSV: (Message column, CSV header).
CSV_COLUMNS = (
    ("id", "message_id"),
    ("run_id", "run_id"),
    ("contact_id", "contact_id"),
    ("contact__first_name", "first_name"),
    ("contact__last_name", "last_name"),
    ("to_address", "to"),
    ("status", "status"),
    ("skip_reason", "skip_reason"),
    ("attempts", "attempts"),
    ("last_error", "last_error"),
    ("error_code", "error_code"),
    ("provider_message_id", "provider_message_id"),
    ("send_after", "send_after"),
    ("sent_at", "sent_at"),
    ("delivered_at", "delivered_at"),
    ("failed_at", "failed_at"),
    ("replied_at", "replied_at"),
)
ENGAGEMENT_COLUMNS = ("clicks", "conversions", "revenue")


@require_http_methods(["GET"])
@workspace_required
def campaign_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Per-recipient results, streamed (a run of a million rows does not sit in memory)."""
    campaign = campaign_for(request, pk)
    rows = (
        Message.objects.filter(workspace=request.workspace, campaign=campaign)
        .order_by("id")
        .values_list(*(column for column, _ in CSV_COLUMNS))
        .iterator(chunk_size=5000)
    )
    # Each recipient's people's clicks, conversions and revenue: read once for the campaign
    # (only the messages that have any), not once per row.
    engaged = message_engagement(campaign_id=campaign.pk)
    places = minor_units(request.workspace.currency) or 0
    none = (0, 0, Decimal(0))
    rows = (
        (*row, clicks, conversions, f"{revenue:.{places}f}")
        for row in rows
        for clicks, conversions, revenue in [engaged.get(row[0], none)]
    )
    header = [name for _, name in CSV_COLUMNS] + list(ENGAGEMENT_COLUMNS)
    if campaign.channel == "voice":  # V6: each recipient's call and its transcript
        calls = voice_selectors.message_calls(campaign_id=campaign.pk)
        empty = voice_selectors.CSV_EMPTY
        rows = ((*row, *calls.get(row[0], empty)) for row in rows)
        header += list(voice_selectors.CSV_COLUMNS)
    return csv_response(
        itertools.chain([header], rows), filename=f"campaign-{campaign.pk}-results.csv"
    )
