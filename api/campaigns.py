"""/api/v1/campaigns and /api/v1/senders (A5)."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from campaigns import scheduling
from campaigns.lifecycle import (
    StateError,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_retry_failed,
)
from campaigns.models import Campaign
from campaigns.selectors import campaign_results
from campaigns.services import campaign_create, campaign_update
from messaging.models import Message, Sender
from messaging.senders import sender_create

from .schemas import ErrorOut, Id, Input, Paging, page_of

router = Router(tags=["campaigns"])
senders_router = Router(tags=["senders"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class WindowIn(Input):
    start_hour: int | None = None
    end_hour: int | None = None
    excluded_days: list[str] = []


class RecurrenceIn(Input):
    frequency: str
    days: list[str] | None = None
    day_of_month: int | None = None
    until: str | None = None


class CampaignIn(Input):
    name: str
    type: str = "sms"
    contact_group_id: Id | None = Field(None, description="The group it targets, or:")
    smart_group_id: Id | None = Field(
        None, description="The smart group it targets, evaluated when each run starts (G2)."
    )
    message_template: str = ""
    subject: str = ""
    html_template: str = ""
    agent_id: Id | None = None
    sender_id: Id | None = None
    scheduled_at: datetime | None = None
    timezone: str | None = None
    sending_window: WindowIn | None = None
    recurrence: RecurrenceIn | None = None
    max_retries: int = 2
    retry_interval: int = 300
    track_links: bool = Field(
        True, description="Each link of an SMS or email becomes a tracked short link (E1)."
    )
    link_click_code: bool = Field(
        False, description="Add hc=<code> to landing page addresses (for conversions)."
    )
    draft: bool = Field(
        False,
        description="With `scheduled_at`, the campaign is scheduled at once (state `scheduled`) "
        "unless `draft` is true. Without `scheduled_at` it stays a draft until "
        "`POST /campaigns/{id}/launch` sends it.",
    )


class CampaignPatch(Input):
    name: str | None = None
    message_template: str | None = None
    subject: str | None = None
    html_template: str | None = None
    agent_id: Id | None = None
    sender_id: Id | None = None
    scheduled_at: datetime | None = None
    timezone: str | None = None
    sending_window: WindowIn | None = None
    recurrence: RecurrenceIn | None = None
    max_retries: int | None = None
    retry_interval: int | None = None
    track_links: bool | None = None
    link_click_code: bool | None = None


class CampaignFilters(Paging):
    state: str | None = None


class MessagesQuery(Input):
    status: str | None = None
    limit: int | None = Field(None, description="Up to 1,000 messages from `offset`.")
    offset: int | None = None
    page: int = Field(1, description="The older form of paging: page `page` of `page_size`.")
    page_size: int = 100


MAX_PAGE = 10**6  # any page past it is empty; an offset past a bigint is a database error


class CampaignOut(Schema):
    id: int
    name: str
    type: str
    state: str
    contact_group_id: int | None
    smart_group_id: int | None
    agent_id: int | None
    sender_id: int | None
    message_template: str
    subject: str
    html_template: str
    scheduled_at: datetime | None
    timezone: str
    sending_window: dict
    recurrence: dict | None
    max_retries: int
    retry_interval: int
    track_links: bool
    link_click_code: bool
    failure_reason: str
    pause_reason: str = Field(
        "", description="Why Herald paused the campaign (its daily send limit), until it resumes."
    )
    next_run_at: datetime | None
    created_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None


class CallResultsOut(Schema):
    answered: int = Field(description="Calls a person answered.")
    voicemail: int = Field(description="Calls a machine answered: the opening left as voicemail.")
    no_answer: int = Field(description="Calls nobody answered on their last attempt.")
    busy: int = Field(description="Calls busy on their last attempt.")
    failed: int
    average_call_seconds: float | None = Field(description="Answered calls' average length.")
    average_call_length: str | None = Field(description='The same as people read it: "1m 05s".')
    handoffs: int = Field(description="Calls the agent handed to a person.")


class ResultsOut(Schema):
    campaign_id: int
    status: str
    total_contacts: int
    pending: int
    sent: int
    delivered: int
    replied: int
    failed: int
    skipped: int
    capped: int = Field(0, description="Of the skipped: at the workspace's frequency cap.")
    reply_rate: str = Field(description='replied / sent as people read it: "29.3%".')
    reply_rate_value: float = Field(description="replied / sent, from 0 to 1.")
    average_response_time: str | None = Field(
        description='How long repliers took on average: "4m 23s" (null before any reply).'
    )
    average_response_seconds: float | None = Field(description="The same in seconds.")
    clicks: int = Field(description="People's clicks on tracked links (previews not counted).")
    unique_clicks: int = Field(description="Contacts who clicked.")
    click_rate: float = Field(description="unique_clicks / delivered.")
    conversions: int = Field(description="Conversions credited to the campaign (or run).")
    revenue: float = Field(description="Their revenue, in `currency`.")
    revenue_per_message: float = Field(description="revenue / sent.")
    currency: str
    conversations: int | None = Field(None, description="Threads its messages started.")
    handoffs: int | None = Field(None, description="Times its agent handed a thread to a person.")
    needs_human: int | None = Field(None, description="Its threads waiting for a person now.")
    calls: CallResultsOut | None = Field(None, description="Voice campaigns: how the calls went.")


class MessageOut(Schema):
    id: int
    contact_id: int | None
    to: str = Field(..., alias="to_address")
    subject: str
    body: str
    status: str
    skip_reason: str
    attempts: int
    send_after: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    provider_message_id: str


class MessageListOut(Schema):
    items: list[MessageOut]
    count: int


class CampaignListOut(Schema):
    items: list[CampaignOut]
    count: int


class SenderIn(Input):
    channel: str
    address: str
    name: str = ""
    rate_limit_per_second: float | None = Field(
        None,
        description="Messages per second (0: no limit). Left out: 1 for SMS and voice (a long "
        "code's rate), 10 for email.",
    )


class SenderOut(Schema):
    id: int
    channel: str
    address: str
    name: str
    rate_limit_per_second: float


class SenderListOut(Schema):
    items: list[SenderOut]
    count: int


def campaign_out(campaign: Campaign) -> dict:
    scheduled = campaign.scheduled_at
    if scheduled is not None and campaign.timezone == scheduling.CONTACT_LOCAL:
        scheduled = scheduled.replace(tzinfo=None)  # a wall time, the same in every zone
    return {
        "id": campaign.id,
        "name": campaign.name,
        "type": campaign.channel,
        "state": campaign.state,
        "contact_group_id": campaign.group_id,
        "smart_group_id": campaign.smart_group_id,
        "agent_id": campaign.agent_id,
        "sender_id": campaign.sender_id,
        "message_template": campaign.message_template,
        "subject": campaign.subject,
        "html_template": campaign.html_template,
        "scheduled_at": scheduled,
        "timezone": campaign.timezone,
        "sending_window": {
            "start_hour": campaign.window_start_hour,
            "end_hour": campaign.window_end_hour,
            "excluded_days": campaign.excluded_days,
        },
        "recurrence": campaign.recurrence,
        "max_retries": campaign.max_retries,
        "retry_interval": campaign.retry_interval,
        "track_links": campaign.track_links,
        "link_click_code": campaign.link_click_code,
        "failure_reason": campaign.failure_reason,
        "pause_reason": campaign.pause_reason,
        "next_run_at": campaign.next_run_at,
        "created_at": campaign.created_at,
        "launched_at": campaign.launched_at,
        "completed_at": campaign.completed_at,
    }


def _data(payload, *, partial: bool) -> dict:
    raw = payload.dict(exclude_unset=partial)
    data = {}
    renames = {
        "type": "channel",
        "contact_group_id": "group",
        "smart_group_id": "smart_group",
        "agent_id": "agent",
    }
    raw.pop("draft", None)
    for key, value in raw.items():
        if key == "sending_window":
            window = value or {}
            data["window_start_hour"] = window.get("start_hour")
            data["window_end_hour"] = window.get("end_hour")
            data["excluded_days"] = window.get("excluded_days") or []
        elif key == "sender_id":
            data["sender"] = value
        elif key == "recurrence":
            data["recurrence"] = {k: v for k, v in (value or {}).items() if v is not None} or None
        else:
            data[renames.get(key, key)] = value
    return data


def get_campaign(request, campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign.objects.for_workspace(request.workspace), pk=campaign_id)


def _rule_error(exc: ValidationError):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    errors = {
        {"channel": "type", "group": "contact_group_id", "smart_group": "smart_group_id"}.get(
            k, k
        ): v
        for k, v in errors.items()
    }
    return Status(400, {"message": "Invalid request.", "errors": errors})


@router.get("", response={200: CampaignListOut, **ERRORS}, summary="List campaigns")
def campaign_list(request, filters: Query[CampaignFilters]):
    """Newest first; `state` keeps one state."""
    campaigns = Campaign.objects.for_workspace(request.workspace)
    if filters.state:
        campaigns = campaigns.filter(state=filters.state)
    page = page_of(campaigns, filters)
    return {"items": [campaign_out(c) for c in page["items"]], "count": page["count"]}


@router.post("", response={201: CampaignOut, **ERRORS}, summary="Create a campaign")
def campaign_add(request, payload: CampaignIn):
    """A campaign with `scheduled_at` is scheduled at once (as `/launch` would), unless
    `draft` is true; without it, it is a draft that `/launch` sends. `state` in the answer
    says which. A campaign that cannot be scheduled (an empty group, a time in the past) is
    a 400 and nothing is created."""
    scheduled = payload.scheduled_at is not None and not payload.draft
    try:
        with transaction.atomic():
            data = _data(payload, partial=False)
            campaign = campaign_create(workspace=request.workspace, data=data)
            if scheduled:
                campaign = campaign_launch(campaign=campaign)
    except ValidationError as exc:
        return _rule_error(exc)
    return Status(201, campaign_out(campaign))


@router.get("/{int:campaign_id}", response={200: CampaignOut, **ERRORS})
def campaign_detail(request, campaign_id: int):
    return campaign_out(get_campaign(request, campaign_id))


@router.patch("/{int:campaign_id}", response={200: CampaignOut, **ERRORS})
def campaign_patch(request, campaign_id: int, payload: CampaignPatch):
    campaign = get_campaign(request, campaign_id)
    try:
        campaign = campaign_update(campaign=campaign, data=_data(payload, partial=True))
    except ValidationError as exc:
        return _rule_error(exc)
    return campaign_out(campaign)


def _transition(request, campaign_id: int, action):
    campaign = get_campaign(request, campaign_id)
    try:
        campaign = action(campaign=campaign)
    except StateError as exc:
        return Status(409, {"message": str(exc), "errors": {"state": [campaign.state]}})
    except ValidationError as exc:
        return _rule_error(exc)
    return campaign_out(campaign)


@router.post("/{int:campaign_id}/launch", response={200: CampaignOut, 409: ErrorOut, **ERRORS})
def campaign_launch_view(request, campaign_id: int):
    return _transition(request, campaign_id, campaign_launch)


@router.post("/{int:campaign_id}/pause", response={200: CampaignOut, 409: ErrorOut, **ERRORS})
def campaign_pause_view(request, campaign_id: int):
    return _transition(request, campaign_id, campaign_pause)


@router.post("/{int:campaign_id}/resume", response={200: CampaignOut, 409: ErrorOut, **ERRORS})
def campaign_resume_view(request, campaign_id: int):
    return _transition(request, campaign_id, campaign_resume)


class RetryOut(Schema):
    retried: int = Field(description="How many failed messages were queued again.")
    campaign: CampaignOut


@router.post("/{int:campaign_id}/retry-failed", response={200: RetryOut, 409: ErrorOut, **ERRORS})
def campaign_retry_failed_view(request, campaign_id: int):
    """Queue the campaign's failed messages again (attempts from zero); their runs reopen. A
    paused campaign sends them when it resumes. Each is checked again when sent (opt-outs,
    blocked numbers, the frequency cap)."""
    campaign = get_campaign(request, campaign_id)
    try:
        retried = campaign_retry_failed(campaign=campaign)
    except StateError as exc:
        return Status(409, {"message": str(exc), "errors": {"state": [campaign.state]}})
    campaign.refresh_from_db()
    return {"retried": retried, "campaign": campaign_out(campaign)}


class ResultsQuery(Input):
    run_id: Id | None = Field(None, description="One run's results (default: all runs).")


@router.get("/{int:campaign_id}/results", response={200: ResultsOut, **ERRORS})
def campaign_results_view(request, campaign_id: int, query: Query[ResultsQuery]):
    campaign = get_campaign(request, campaign_id)
    run = None
    if query.run_id is not None:
        run = get_object_or_404(campaign.runs.all(), pk=query.run_id)
    return campaign_results(campaign=campaign, run=run)


@router.get("/{int:campaign_id}/messages", response={200: MessageListOut, **ERRORS})
def campaign_messages(request, campaign_id: int, query: Query[MessagesQuery]):
    """The campaign's messages by id, `limit` from `offset` (or page `page` of
    `page_size`); `status` keeps one status."""
    campaign = get_campaign(request, campaign_id)
    if query.limit is not None or query.offset is not None:
        page_size = min(max(query.limit or 100, 1), 1000)
        offset = min(max(query.offset or 0, 0), MAX_PAGE * 1000)
    else:
        page_size = min(max(query.page_size, 1), 1000)
        offset = (min(max(query.page, 1), MAX_PAGE) - 1) * page_size
    messages = Message.objects.filter(workspace=request.workspace, campaign=campaign)
    if query.status:
        messages = messages.filter(status=query.status)
    return {
        "items": list(messages.order_by("id")[offset : offset + page_size]),
        "count": messages.count(),
    }


@senders_router.get("", response={200: SenderListOut, **ERRORS}, summary="List senders")
def sender_list(request, paging: Query[Paging]):
    """By channel and address."""
    return page_of(Sender.objects.for_workspace(request.workspace), paging)


@senders_router.post("", response={201: SenderOut, **ERRORS}, summary="Add a sender")
def sender_add(request, payload: SenderIn):
    try:
        sender = sender_create(workspace=request.workspace, data=payload.dict())
    except ValidationError as exc:
        return _rule_error(exc)
    return Status(201, sender)
