"""Campaign pages: list, builder steps, campaign page with live counts, senders."""

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from contacts.models import ContactGroup
from conversations.models import Agent
from messaging import templating
from messaging.models import Message, Sender

from . import scheduling, selectors, services
from .models import Campaign, Channel

STEPS = [
    ("group", "Group"),
    ("channel", "Channel"),
    ("message", "Message"),
    ("settings", "Settings"),
    ("schedule", "Schedule"),
    ("review", "Review"),
]
STEP_FIELDS = {
    "group": {"group"},
    "channel": {"channel"},
    "message": {"message_template", "subject", "html_template"},
    "settings": {"name", "agent", "sender", "max_retries", "retry_interval"},
    "schedule": {"timezone", "scheduled_at", "sending_window", "recurrence"},
}
WINDOW_KEYS = {"window_start_hour", "window_end_hour", "excluded_days"}


def _campaign(request: HttpRequest, pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.for_workspace(request.workspace), pk=pk)


@require_http_methods(["GET"])
@workspace_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.for_workspace(request.workspace).select_related("group")
    state = request.GET.get("state", "")
    if state in Campaign.State.values:
        campaigns = campaigns.filter(state=state)
    return render(
        request,
        "campaigns/campaign_list.html",
        {"campaigns": campaigns[:200], "states": Campaign.State.choices, "state": state},
    )


# Builder -------------------------------------------------------------------------------------


def _current_data(campaign: Campaign) -> dict:
    return {key: services._current(campaign, key) for key in services.CAMPAIGN_FIELDS}


def _posted(step: str, post) -> dict:
    if step == "group":
        return {"group": post.get("group") or None}
    if step == "channel":
        return {"channel": post.get("channel", "")}
    if step == "message":
        return {k: post.get(k, "") for k in ("message_template", "subject", "html_template")}
    if step == "settings":
        return {
            "name": post.get("name", ""),
            "agent": post.get("agent") or None,
            "sender": post.get("sender") or None,
            "max_retries": post.get("max_retries", ""),
            "retry_interval": post.get("retry_interval", ""),
        }
    data = {
        "timezone": post.get("timezone", ""),
        "window_start_hour": post.get("window_start_hour") or None,
        "window_end_hour": post.get("window_end_hour") or None,
        "excluded_days": post.getlist("excluded_days"),
        "scheduled_at": None,
        "recurrence": None,
    }
    when = post.get("when", "now")
    if when in ("later", "recurring"):
        data["scheduled_at"] = post.get("scheduled_at") or "missing"
    if when == "recurring":
        data["recurrence"] = {
            "frequency": post.get("frequency", ""),
            "days": post.getlist("recurrence_days"),
            "day_of_month": int(post["day_of_month"])
            if post.get("day_of_month", "").isdigit()
            else None,
            "until": post.get("until") or None,
        }
    return data


def _step_errors(step: str, errors: dict) -> dict:
    keys = STEP_FIELDS.get(step, set())
    if step == "schedule":
        keys = keys | WINDOW_KEYS
    return {k: v for k, v in errors.items() if k in keys}


def _builder_context(request, campaign: Campaign | None, step: str, **extra) -> dict:
    workspace = request.workspace
    index = [s for s, _ in STEPS].index(step)
    context = {
        "campaign": campaign,
        "step": step,
        "steps": STEPS,
        "step_index": index,
        "groups": ContactGroup.objects.for_workspace(workspace),
        "channels": Channel.choices,
        "agents": Agent.objects.for_workspace(workspace),
        "senders": Sender.objects.for_workspace(workspace).filter(
            channel=campaign.channel if campaign else "sms"
        ),
        "weekdays": scheduling.WEEKDAYS,
        "zones": scheduling.zone_names(),
        "hours": range(0, 25),
        "errors": {},
    }
    if campaign is not None:
        context["data"] = _current_data(campaign)
        context["scheduled_local"] = _scheduled_local(campaign)
        if step in ("message", "review"):
            context["counter"] = _counter(campaign.channel, campaign.message_template)
        if step == "review":
            context["audience"] = selectors.group_audience(campaign=campaign)
            context["next_runs"] = selectors.next_runs(campaign=campaign)
            _, context["problems"] = services.campaign_validate(
                workspace=workspace, data=_current_data(campaign)
            )
    context.update(extra)
    return context


def _scheduled_local(campaign: Campaign) -> str:
    from messaging.outbox import campaign_first_wall

    wall = campaign_first_wall(campaign)
    return wall.strftime("%Y-%m-%dT%H:%M") if wall else ""


def _counter(channel: str, text: str) -> dict | None:
    if channel != "sms":
        return None
    info = templating.sms_segments(text or "")
    return {"info": info, "variables": templating.variables(text or "")}


@require_http_methods(["GET", "POST"])
@workspace_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    """Step 1: the group. Creates the draft, which the next steps fill in."""
    if request.method == "POST":
        group = (
            ContactGroup.objects.for_workspace(request.workspace)
            .filter(pk=request.POST.get("group") or 0)
            .first()
        )
        if group is None:
            context = _builder_context(request, None, "group", errors={"group": "Choose a group."})
            return render(request, "campaigns/builder.html", context, status=200)
        campaign = Campaign.objects.create(
            workspace=request.workspace,
            group=group,
            name=f"{group.name} campaign {timezone.localdate():%Y-%m-%d}",
            timezone=request.workspace.timezone,
        )
        return redirect("campaigns:campaign-build", pk=campaign.pk, step="channel")
    return render(request, "campaigns/builder.html", _builder_context(request, None, "group"))


@require_http_methods(["GET", "POST"])
@workspace_required
def campaign_build(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    campaign = _campaign(request, pk)
    if step not in dict(STEPS):
        return redirect("campaigns:campaign-build", pk=pk, step="group")
    if campaign.state != Campaign.State.DRAFT:
        messages.info(
            request, "This campaign has been launched: its message and schedule are fixed."
        )
        return redirect("campaigns:campaign-detail", pk=pk)
    if request.method == "POST" and step != "review":
        data = _current_data(campaign)
        data.update(_posted(step, request.POST))
        clean, errors = services.campaign_validate(workspace=request.workspace, data=data)
        errors = _step_errors(step, errors)
        if errors:
            context = _builder_context(request, campaign, step, errors=errors, posted=data)
            return render(request, "campaigns/builder.html", context)
        fields = STEP_FIELDS[step] | (WINDOW_KEYS if step == "schedule" else set())
        for key in fields - {"sending_window"}:
            setattr(campaign, key, clean[key])
        if step == "channel" and campaign.sender_id and campaign.sender.channel != campaign.channel:
            campaign.sender = None
        campaign.save()
        following = STEPS[[s for s, _ in STEPS].index(step) + 1][0]
        return redirect("campaigns:campaign-build", pk=pk, step=following)
    return render(request, "campaigns/builder.html", _builder_context(request, campaign, step))


@require_http_methods(["POST"])
@workspace_required
def campaign_counter(request: HttpRequest) -> HttpResponse:
    """Live character and segment count of the SMS body (htmx, as the user types)."""
    context = {"counter": _counter("sms", request.POST.get("message_template", ""))}
    return render(request, "campaigns/builder.html#sms-counter", context)


@require_http_methods(["POST"])
@workspace_required
def campaign_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    sample = (
        campaign.group.contacts.filter(status="active").order_by("id").first()
        if campaign.group_id
        else None
    )
    context = {"campaign": campaign}
    try:
        message = services.campaign_test_send(
            campaign=campaign, to=request.POST.get("to", ""), contact=sample
        )
        context["test_result"] = (
            f"Test sent to {message.to_address} ({message.get_status_display()})."
        )
    except ValidationError as exc:
        context["test_error"] = "; ".join(exc.messages)
    if request.htmx:
        return render(request, "campaigns/builder.html#test-send", context)
    if "test_error" in context:
        messages.error(request, context["test_error"])
    else:
        messages.success(request, context["test_result"])
    return redirect("campaigns:campaign-build", pk=pk, step="review")


@require_http_methods(["POST"])
@workspace_required
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        campaign = services.campaign_launch(campaign=campaign)
    except services.StateError as exc:
        messages.error(request, str(exc))
        return redirect("campaigns:campaign-detail", pk=pk)
    except ValidationError as exc:
        messages.error(request, "Cannot launch: " + " ".join(exc.messages))
        return redirect("campaigns:campaign-build", pk=pk, step="review")
    messages.success(
        request,
        "Campaign launched: sending has started."
        if campaign.state == Campaign.State.RUNNING
        else "Campaign scheduled.",
    )
    return redirect("campaigns:campaign-detail", pk=pk)


# Campaign page ---------------------------------------------------------------------------------


def _live_context(campaign: Campaign) -> dict:
    results = selectors.campaign_results(campaign=campaign)
    return {
        "campaign": campaign,
        "results": results,
        "progress": selectors.campaign_progress(results),
        "chart": selectors.campaign_chart(campaign=campaign),
        "polling": campaign.state in (Campaign.State.RUNNING, Campaign.State.SCHEDULED),
    }


@require_http_methods(["GET"])
@workspace_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    context = _live_context(campaign)
    if request.htmx and request.htmx.target == "campaign-live":
        response = render(request, "campaigns/campaign_detail.html#live", context)
        patch_vary_headers(response, ("HX-Request", "HX-Target"))
        return response
    context["runs"] = selectors.campaign_runs(campaign=campaign)
    context["next_runs"] = selectors.next_runs(campaign=campaign) if campaign.is_recurring else []
    context["scheduled_local"] = _scheduled_local(campaign)
    response = render(request, "campaigns/campaign_detail.html", context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@require_http_methods(["POST"])
@workspace_required
def campaign_state(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = _campaign(request, pk)
    actions = {"pause": services.campaign_pause, "resume": services.campaign_resume}
    if action == "delete":
        try:
            services.campaign_delete(campaign=campaign)
        except services.StateError as exc:
            messages.error(request, str(exc))
            return redirect("campaigns:campaign-detail", pk=pk)
        messages.success(request, f"Campaign “{campaign.name}” deleted.")
        return redirect("campaigns:campaign-list")
    if action not in actions:
        return redirect("campaigns:campaign-detail", pk=pk)
    try:
        actions[action](campaign=campaign)
        messages.success(request, "Campaign paused." if action == "pause" else "Campaign resumed.")
    except services.StateError as exc:
        messages.error(request, str(exc))
    return redirect("campaigns:campaign-detail", pk=pk)


@require_http_methods(["POST"])
@workspace_required
def campaign_rename(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        services.campaign_update(campaign=campaign, data={"name": request.POST.get("name", "")})
        messages.success(request, "Saved.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("campaigns:campaign-detail", pk=pk)


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    """Neutralise spreadsheet formulas in contact-supplied text (OWASP CSV injection)."""
    from core.csv import csv_cell

    return csv_cell(value)


@require_http_methods(["GET"])
@workspace_required
def campaign_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Per-recipient results, streamed (a run of a million rows does not sit in memory)."""
    campaign = _campaign(request, pk)
    columns = [
        "id",
        "run_id",
        "contact_id",
        "contact__first_name",
        "contact__last_name",
        "to_address",
        "status",
        "skip_reason",
        "attempts",
        "last_error",
        "error_code",
        "provider_message_id",
        "send_after",
        "sent_at",
        "delivered_at",
        "failed_at",
        "replied_at",
    ]
    header = [
        "message_id",
        "run_id",
        "contact_id",
        "first_name",
        "last_name",
        "to",
        "status",
        "skip_reason",
        "attempts",
        "last_error",
        "error_code",
        "provider_message_id",
        "send_after",
        "sent_at",
        "delivered_at",
        "failed_at",
        "replied_at",
    ]
    rows = (
        Message.objects.filter(workspace=request.workspace, campaign=campaign)
        .order_by("id")
        .values_list(*columns)
        .iterator(chunk_size=5000)
    )
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_csv_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-results.csv"'
    return response


# Senders ------------------------------------------------------------------------------------


SENDER_DEFAULTS = {"channel": "sms", "address": "", "name": "", "rate_limit_per_second": 1.0}


def _initial(obj, defaults: dict) -> dict:
    return {key: getattr(obj, key) for key in defaults} if obj else dict(defaults)


@require_http_methods(["GET"])
@workspace_required
def sender_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "campaigns/sender_list.html",
        {"senders": Sender.objects.for_workspace(request.workspace)},
    )


@require_http_methods(["GET", "POST"])
@workspace_required
def sender_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    sender = (
        get_object_or_404(Sender.objects.for_workspace(request.workspace), pk=pk) if pk else None
    )
    data = request.POST if request.method == "POST" else _initial(sender, SENDER_DEFAULTS)
    errors: dict = {}
    if request.method == "POST":
        try:
            if sender is None:
                services.sender_create(workspace=request.workspace, data=data)
            else:
                services.sender_update(sender=sender, data=data)
            messages.success(request, "Sender saved.")
            return redirect("campaigns:sender-list")
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    return render(
        request,
        "campaigns/sender_form.html",
        {"sender": sender, "data": data, "errors": errors, "channels": Sender.Channel.choices},
    )


def builder_url(campaign: Campaign, step: str) -> str:
    return reverse("campaigns:campaign-build", kwargs={"pk": campaign.pk, "step": step})
