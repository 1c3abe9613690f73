"""The campaign builder (K2): one page per step, each validated and saved through services."""

from csp.decorators import csp
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from audiences.models import SmartGroup
from contacts.models import ContactGroup
from conversations.models import Agent
from conversations.voice_selectors import voice_plan
from core.zones import timezone_choices_with
from engagement.links import sample_short_url
from engagement.tracking import MessageLinks, short_form
from messaging import templating
from messaging.models import Sender

from .. import lifecycle, scheduling, selectors, services
from ..estimate import builder_estimate
from ..models import Campaign, Channel
from ..validation import campaign_data, campaign_validate
from .campaign import campaign_for, scheduled_local

STEPS = [
    ("group", "Group"),
    ("channel", "Channel"),
    ("message", "Message"),
    ("settings", "Settings"),
    ("schedule", "Schedule"),
    ("review", "Review"),
]


def _target(value: str | None) -> dict:
    """The group select's value: a group's id, or "smart:<id>" for a smart group."""
    value = value or ""
    if value.startswith("smart:"):
        return {"group": None, "smart_group": value.removeprefix("smart:") or None}
    return {"group": value or None, "smart_group": None}


def _posted(step: str, post) -> dict:
    if step == "group":
        return _target(post.get("group"))
    if step == "channel":
        return {"channel": post.get("channel", "")}
    if step == "message":
        data = {k: post.get(k, "") for k in ("message_template", "subject", "html_template")}
        if "agent" in post:  # a call's agent is chosen with its opening message
            data["agent"] = post.get("agent") or None
        return data | {k: post.get(k) == "on" for k in ("track_links", "link_click_code")}
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


def _form(campaign: Campaign | None, post=None) -> dict:
    """What the step's inputs show, as text: the POST of a refused step as it was typed, else
    the saved campaign (so a refused step never shows a saved value for one the user changed)."""
    if post is not None:
        form = {key: post.get(key, "") for key in _TEXT_INPUTS}
        form |= {key: post.getlist(key) for key in ("excluded_days", "recurrence_days")}
        form |= {key: post.get(key) == "on" for key in ("track_links", "link_click_code")}
        return form
    if campaign is None:
        return {}
    recurrence = campaign.recurrence or {}
    saved = ("channel", "message_template", "subject", "html_template", "name", "timezone")
    return {key: _text(getattr(campaign, key)) for key in saved} | {
        "group": f"smart:{campaign.smart_group_id}"
        if campaign.smart_group_id
        else _text(campaign.group_id),
        "max_retries": _text(campaign.max_retries),
        "retry_interval": _text(campaign.retry_interval),
        "agent": _text(campaign.agent_id),
        "sender": _text(campaign.sender_id),
        "window_start_hour": _text(campaign.window_start_hour),
        "window_end_hour": _text(campaign.window_end_hour),
        "excluded_days": list(campaign.excluded_days or []),
        "when": "recurring" if recurrence else "later" if campaign.scheduled_at else "now",
        "scheduled_at": scheduled_local(campaign),
        "frequency": recurrence.get("frequency", ""),
        "recurrence_days": list(recurrence.get("days") or []),
        "day_of_month": _text(recurrence.get("day_of_month")),
        "until": _text(recurrence.get("until")),
        "track_links": campaign.track_links,
        "link_click_code": campaign.link_click_code,
    }


_TEXT_INPUTS = (
    "group",
    "channel",
    "message_template",
    "subject",
    "html_template",
    "name",
    "agent",
    "sender",
    "max_retries",
    "retry_interval",
    "timezone",
    "window_start_hour",
    "window_end_hour",
    "when",
    "scheduled_at",
    "frequency",
    "day_of_month",
    "until",
)


def _text(value) -> str:
    return "" if value is None else str(value)


def _builder_context(request, campaign: Campaign | None, step: str, **extra) -> dict:
    workspace = request.workspace
    index = [s for s, _ in STEPS].index(step)
    context = {
        "campaign": campaign,
        "step": step,
        "steps": STEPS,
        "step_index": index,
        "groups": ContactGroup.objects.for_workspace(workspace),
        "smart_groups": SmartGroup.objects.for_workspace(workspace),
        "channels": Channel.choices,
        "agents": Agent.objects.for_workspace(workspace),
        "senders": Sender.objects.for_workspace(workspace).filter(
            channel=campaign.channel if campaign else "sms"
        ),
        "weekdays": scheduling.WEEKDAYS,
        "zones": timezone_choices_with(campaign.timezone if campaign else ""),
        "hours": range(0, 25),
        "errors": {},
    }
    if campaign is not None:
        if step in ("message", "review"):
            context["counter"] = _counter(
                campaign.channel,
                campaign.message_template,
                tracked=campaign.track_links,
                campaign=campaign,
            )
            context["short_link_example"] = sample_short_url()
            if campaign.channel == Channel.VOICE:
                context["voice_plan"] = voice_plan(campaign.agent)
        if step == "message":
            context["builtin_variables"] = (*templating.CONTACT_FIELDS, "agent_name")
            context["custom_fields"] = selectors.campaign_custom_fields(campaign=campaign)
        if step == "review":
            context["audience"] = selectors.group_audience(campaign=campaign)
            context["estimate"] = builder_estimate(
                campaign=campaign, sendable=context["audience"]["sendable"]
            )
            context["next_runs"] = selectors.campaign_next_runs(campaign=campaign)
            _, context["problems"] = campaign_validate(
                workspace=workspace, data=campaign_data(campaign)
            )
    context.update(extra)
    context["form"] = _form(campaign, context.get("post"))
    return context


def _counter(
    channel: str, text: str, *, tracked: bool, campaign: Campaign | None = None
) -> dict | None:
    """The SMS's characters and segments as a recipient gets it: rendered for the campaign's
    first recipient (or a sample person), links in their short form when they are tracked."""
    if channel != "sms":
        return None
    text = text or ""
    sample = selectors.campaign_sample_contact(campaign=campaign) if campaign else None
    agent_name = campaign.agent.name if campaign and campaign.agent_id else ""
    values = services.contact_values(sample)
    context = templating.contact_context(**values, agent_name=agent_name)
    rendered = templating.render(short_form(text) if tracked else text, context)
    return {
        "info": templating.sms_segments(rendered),
        "variables": templating.variables(text),
        "sample": f"{values['first_name']} {values['last_name']}".strip() or "the first contact",
        "tracked": tracked and bool(MessageLinks(body=text)),
        "short_length": len(sample_short_url()),
    }


@require_http_methods(["GET", "POST"])
@workspace_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    """Step 1: the group. Creates the draft, which the next steps fill in."""
    if request.method == "POST":
        try:
            target = _target(request.POST.get("group"))
            campaign = services.campaign_draft_create(
                workspace=request.workspace,
                group_id=target["group"],
                smart_group_id=target["smart_group"],
            )
        except ValidationError as exc:
            errors = {key: " ".join(value) for key, value in exc.message_dict.items()}
            context = _builder_context(request, None, "group", errors=errors, post=request.POST)
            return render(request, "campaigns/builder.html", context)
        return redirect("campaigns:campaign-build", pk=campaign.pk, step="channel")
    return render(request, "campaigns/builder.html", _builder_context(request, None, "group"))


@require_http_methods(["GET", "POST"])
@workspace_required
def campaign_build(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    campaign = campaign_for(request, pk)
    if step not in dict(STEPS):
        return redirect("campaigns:campaign-build", pk=pk, step="group")
    if campaign.state != Campaign.State.DRAFT:
        messages.info(
            request, "This campaign has been launched: its message and schedule are fixed."
        )
        return redirect("campaigns:campaign-detail", pk=pk)
    if request.method == "POST" and step != "review":
        data = _posted(step, request.POST)
        try:
            services.campaign_step_save(campaign=campaign, step=step, data=data)
        except ValidationError as exc:
            errors = {key: " ".join(value) for key, value in exc.message_dict.items()}
            context = _builder_context(request, campaign, step, errors=errors, post=request.POST)
            return render(request, "campaigns/builder.html", context)
        following = STEPS[[s for s, _ in STEPS].index(step) + 1][0]
        return redirect("campaigns:campaign-build", pk=pk, step=following)
    return render(request, "campaigns/builder.html", _builder_context(request, campaign, step))


@require_http_methods(["POST"])
@workspace_required
def campaign_counter(request: HttpRequest) -> HttpResponse:
    """Live character and segment count of the SMS body (htmx, as the user types), rendered
    for the campaign's first recipient."""
    text = request.POST.get("message_template", "")
    tracked = request.POST.get("track_links") == "on"
    pk = request.POST.get("campaign", "")
    campaign = (
        Campaign.objects.for_workspace(request.workspace).filter(pk=pk).first()
        if pk.isdigit() and len(pk) < 19
        else None
    )
    context = {"counter": _counter("sms", text, tracked=tracked, campaign=campaign)}
    return render(request, "campaigns/builder.html#sms-counter", context)


@require_http_methods(["POST"])
@workspace_required
def campaign_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = campaign_for(request, pk)
    targets = selectors.campaign_targets(campaign=campaign)
    sample = targets.filter(status="active").order_by("id").first()
    context = {"campaign": campaign}
    try:
        message = services.campaign_test_send(
            campaign=campaign, to=request.POST.get("to", ""), contact=sample, user=request.user
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
    campaign = campaign_for(request, pk)
    try:
        campaign = lifecycle.campaign_launch(campaign=campaign)
    except lifecycle.StateError as exc:
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


# The email's own HTML, shown in a sandboxed frame of the review: no script runs (sandbox),
# its inline styles and images show as in a mail client, and only our pages may frame it.
EMAIL_PREVIEW_POLICY = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["https:", "data:"],
    "frame-ancestors": ["'self'"],
    "sandbox": [""],
}


@require_http_methods(["GET"])
@workspace_required
@xframe_options_sameorigin
@csp(EMAIL_PREVIEW_POLICY)
def campaign_email_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The email as its first recipient gets it (the review's frame)."""
    campaign = campaign_for(request, pk)
    return HttpResponse(selectors.campaign_email_preview(campaign=campaign))
