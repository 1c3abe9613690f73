"""Campaign writes with rules: create, update, launch, pause, resume, test send; senders."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Workspace
from contacts.models import ContactGroup
from contacts.phones import InvalidPhone, normalize_phone
from conversations.models import Agent
from messaging import templating
from messaging.backends import PermanentError, RetryableError, UnknownOutcome, get_backend
from messaging.models import InboundMessage, Message, Sender

from . import scheduling
from .models import Campaign, CampaignRun, Channel

EDITABLE_WHILE_ACTIVE = {"name", "max_retries", "retry_interval"}
CAMPAIGN_FIELDS = (
    "name",
    "channel",
    "group",
    "agent",
    "sender",
    "message_template",
    "subject",
    "html_template",
    "timezone",
    "scheduled_at",
    "window_start_hour",
    "window_end_hour",
    "excluded_days",
    "recurrence",
    "max_retries",
    "retry_interval",
)


class StateError(Exception):
    """The campaign's state does not allow this action (the API answers 409)."""


def _resolve(workspace: Workspace, model, value, field: str):
    if value is None or value == "":
        return None
    if isinstance(value, model):
        obj = value
        if obj.workspace_id != workspace.id:
            raise ValidationError({field: "Not found in this workspace."})
        return obj
    obj = model.objects.for_workspace(workspace).filter(pk=value).first()
    if obj is None:
        raise ValidationError({field: "Not found in this workspace."})
    return obj


def _scheduled_instant(value, tz: str) -> datetime | None:
    """An aware instant from input; naive means in `tz`. contact_local keeps the wall time."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError({"scheduled_at": "Enter a date and time."}) from exc
    if tz == scheduling.CONTACT_LOCAL:
        wall = (
            value.replace(tzinfo=None) if timezone.is_naive(value) else value.replace(tzinfo=None)
        )
        return wall.replace(tzinfo=UTC)
    if timezone.is_naive(value):
        return scheduling.localize(value, tz)
    return value.astimezone(UTC)


def campaign_clean(*, workspace: Workspace, data: dict) -> dict:
    """Validate campaign fields (all of them); returns the cleaned values or ValidationError."""
    clean, errors = campaign_validate(workspace=workspace, data=data)
    if errors:
        raise ValidationError(errors)
    return clean


def campaign_validate(*, workspace: Workspace, data: dict) -> tuple[dict, dict[str, str]]:
    """Every field checked: the cleaned values and the errors by field (builder steps use
    the errors of their own fields only)."""
    errors: dict[str, str] = {}
    clean: dict = {}
    clean["name"] = (data.get("name") or "").strip()[:200]
    if not clean["name"]:
        errors["name"] = "Give the campaign a name."
    channel = data.get("channel") or Channel.SMS
    if channel not in Channel.values:
        errors["channel"] = "Channel must be sms, email or voice."
    clean["channel"] = channel
    try:
        clean["group"] = _resolve(workspace, ContactGroup, data.get("group"), "group")
        if clean["group"] is None:
            errors["group"] = "Choose a contact group."
        clean["agent"] = _resolve(workspace, Agent, data.get("agent"), "agent")
        clean["sender"] = _resolve(workspace, Sender, data.get("sender"), "sender")
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    sender = clean.get("sender")
    if sender is not None and sender.channel != channel:
        errors["sender"] = f"This sender is for {sender.get_channel_display()}, not {channel}."
    for key in ("message_template", "subject", "html_template"):
        clean[key] = data.get(key) or ""
    if channel == "email" and not clean["subject"].strip():
        errors["subject"] = "An email needs a subject."
    if channel == "voice" and not (clean["message_template"].strip() or clean.get("agent")):
        errors["message_template"] = "A call needs an opening message or an agent."
    elif channel != "voice" and not (clean["message_template"].strip() or clean["html_template"]):
        errors["message_template"] = "Write the message."
    tz = data.get("timezone") or workspace.timezone
    if tz != scheduling.CONTACT_LOCAL and not scheduling.is_valid_zone(tz):
        errors["timezone"] = f"Unknown time zone “{tz}”."
        tz = "UTC"
    clean["timezone"] = tz
    try:
        clean["scheduled_at"] = _scheduled_instant(data.get("scheduled_at"), tz)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    try:
        window = scheduling.validate_window(
            _int_or_none(data.get("window_start_hour")),
            _int_or_none(data.get("window_end_hour")),
            data.get("excluded_days") or [],
        )
        explicit = data.get("window_start_hour") not in (None, "")
        clean["window_start_hour"] = window.start_hour if explicit else None
        clean["window_end_hour"] = window.end_hour if explicit else None
        clean["excluded_days"] = list(window.excluded_days)
    except (scheduling.ScheduleError, ValueError) as exc:
        errors["sending_window"] = str(exc)
    try:
        clean["recurrence"] = scheduling.validate_recurrence(data.get("recurrence"))
    except scheduling.ScheduleError as exc:
        errors["recurrence"] = str(exc)
    if clean.get("recurrence") and not clean.get("scheduled_at"):
        errors["scheduled_at"] = "A recurring campaign needs its first date and time."
    for key, default, low, high in (("max_retries", 2, 0, 10), ("retry_interval", 300, 10, 86400)):
        try:
            value = int(data.get(key) if data.get(key) not in (None, "") else default)
        except (TypeError, ValueError):
            errors[key] = "Must be a whole number."
            continue
        if not low <= value <= high:
            errors[key] = f"Must be between {low} and {high}."
        clean[key] = value
    if "scheduled_at" not in errors and _is_past(clean):
        errors["scheduled_at"] = "The scheduled time is in the past."
    return clean, errors


def _int_or_none(value) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


def _is_past(clean: dict) -> bool:
    scheduled = clean.get("scheduled_at")
    if scheduled is None or clean.get("recurrence"):
        return False
    if clean["timezone"] == scheduling.CONTACT_LOCAL:
        latest = scheduling.last_instant(scheduled.replace(tzinfo=None), clean["timezone"])
    else:
        latest = scheduled
    return latest <= timezone.now()


def campaign_create(*, workspace: Workspace, data: dict) -> Campaign:
    clean = campaign_clean(workspace=workspace, data=data)
    return Campaign.objects.create(workspace=workspace, state=Campaign.State.DRAFT, **clean)


def campaign_update(*, campaign: Campaign, data: dict) -> Campaign:
    """Change a campaign. A draft changes freely; once launched only the name and retry
    settings may change (messages are rendered at fan-out, so a template edit could not reach
    everyone consistently: it is refused, and the UI says so)."""
    if campaign.state != Campaign.State.DRAFT:
        locked = sorted(
            key
            for key in data
            if key not in EDITABLE_WHILE_ACTIVE and _differs(campaign, key, data)
        )
        if locked:
            raise ValidationError(
                {
                    key: "This campaign has been launched: its message and schedule can no "
                    "longer change (only the name and retry settings)."
                    for key in locked
                }
            )
    merged = {key: _current(campaign, key) for key in CAMPAIGN_FIELDS}
    merged.update(data)
    if campaign.state != Campaign.State.DRAFT:
        merged["scheduled_at"] = None  # a launched schedule is not re-checked against the past
    clean = campaign_clean(workspace=campaign.workspace, data=merged)
    if campaign.state != Campaign.State.DRAFT:
        clean = {k: v for k, v in clean.items() if k in EDITABLE_WHILE_ACTIVE}
    for key, value in clean.items():
        setattr(campaign, key, value)
    campaign.save()
    return campaign


def _current(campaign: Campaign, key: str):
    value = getattr(campaign, key)
    if (
        key == "scheduled_at"
        and value is not None
        and campaign.timezone == scheduling.CONTACT_LOCAL
    ):
        return value.replace(tzinfo=None)
    return value


def _differs(campaign: Campaign, key: str, data: dict) -> bool:
    current = getattr(campaign, key, None)
    new = data[key]
    if hasattr(current, "pk"):
        return getattr(new, "pk", new) != current.pk
    return new != current


def campaign_launch(*, campaign: Campaign) -> Campaign:
    """Draft → Running (send now) or Scheduled (a future time or a recurrence)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state != Campaign.State.DRAFT:
            raise StateError(f"A {campaign.get_state_display().lower()} campaign cannot launch.")
        if campaign.group is None:
            raise ValidationError({"group": "The campaign's group was deleted: choose another."})
        if not campaign.group.memberships.exists():
            raise ValidationError({"group": f"The group “{campaign.group}” has no contacts."})
        data = {key: _current(campaign, key) for key in CAMPAIGN_FIELDS}
        campaign_clean(workspace=campaign.workspace, data=data)  # past times, deleted sender
        now = timezone.now()
        campaign.launched_at = now
        if campaign.scheduled_at is None:
            campaign.next_run_at = now
            campaign.state = Campaign.State.RUNNING
        else:
            first = _first_occurrence(campaign, now)
            if first is None:
                raise ValidationError({"recurrence": "The recurrence ends before it starts."})
            campaign.next_run_at = first
            campaign.state = Campaign.State.SCHEDULED
        campaign.save()
        transaction.on_commit(_ring_the_bell)
    return campaign


def _first_occurrence(campaign: Campaign, now: datetime) -> datetime | None:
    from messaging.outbox import campaign_first_wall

    first = campaign_first_wall(campaign)
    if not campaign.recurrence:
        return scheduling.occurrence_instant(first, campaign.timezone)
    tz = scheduling.EARLIEST_ZONE if campaign.timezone == scheduling.CONTACT_LOCAL else None
    after = max(first, scheduling.to_wall(now, tz or campaign.timezone))
    wall = scheduling.next_occurrence_wall(campaign.recurrence, first, after, inclusive=True)
    return scheduling.occurrence_instant(wall, campaign.timezone) if wall else None


def _ring_the_bell() -> None:
    """Start the work at once instead of at the next beat (best effort: the beat will anyway)."""
    from messaging.tasks import tick

    try:
        tick.delay()
    except Exception:  # the broker is down: the beat's next tick does the same work
        return


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop sending within a tick: runs get the paused flag; claimed messages are released."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state not in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
            raise StateError(f"A {campaign.get_state_display().lower()} campaign cannot be paused.")
        campaign.state = Campaign.State.PAUSED
        campaign.save(update_fields=["state", "updated_at"])
        campaign.runs.exclude(
            state__in=[CampaignRun.State.COMPLETED, CampaignRun.State.FAILED]
        ).update(paused=True)
    return campaign


def campaign_resume(*, campaign: Campaign) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state != Campaign.State.PAUSED:
            raise StateError(f"A {campaign.get_state_display().lower()} campaign cannot resume.")
        active = campaign.runs.exclude(
            state__in=[CampaignRun.State.COMPLETED, CampaignRun.State.FAILED]
        )
        active.update(paused=False)
        if active.exists() or (campaign.next_run_at and campaign.next_run_at <= timezone.now()):
            campaign.state = Campaign.State.RUNNING
        elif campaign.next_run_at:
            campaign.state = Campaign.State.SCHEDULED
        else:
            campaign.state = Campaign.State.COMPLETED
            campaign.completed_at = timezone.now()
        campaign.save()
        transaction.on_commit(_ring_the_bell)
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign with its runs and messages (replies stay, unlinked).

    The messages go in one DELETE: Django's collector would load every row of a big campaign.
    """
    if campaign.state in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
        raise StateError("Pause the campaign before deleting it.")
    with transaction.atomic():
        InboundMessage.objects.filter(in_reply_to__campaign=campaign).update(in_reply_to=None)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM messaging_message WHERE campaign_id = %s", [campaign.pk])
        campaign.delete()


def campaign_test_send(*, campaign: Campaign, to: str, contact=None) -> Message:
    """Send the campaign's message once to one address (K11), rendered for a sample contact.

    The message is recorded without a run, so it never counts in the campaign's results.
    """
    to = (to or "").strip()
    if campaign.channel == Channel.EMAIL:
        try:
            validate_email(to)
        except ValidationError as exc:
            raise ValidationError({"to": "Enter a valid email address."}) from exc
        to = to.lower()
    else:
        try:
            to = normalize_phone(to, campaign.workspace.default_region)
        except InvalidPhone as exc:
            raise ValidationError({"to": str(exc)}) from exc
    context = templating.contact_context(
        **_contact_values(contact), agent_name=campaign.agent.name if campaign.agent_id else ""
    )
    from messaging.outbox import _body_template

    message = Message.objects.create(
        workspace=campaign.workspace,
        campaign=None,
        channel=campaign.channel,
        to_address=to,
        subject=("[Test] " + templating.render(campaign.subject, context))[:255],
        body=templating.render(_body_template(campaign), context),
        html_body=templating.render(campaign.html_template, context, escape_html=True),
        sender=campaign.sender,
        status=Message.Status.SENDING,
        attempts=1,
    )
    now = timezone.now()
    try:
        result = get_backend(campaign.channel).send(message)
    except (RetryableError, PermanentError, UnknownOutcome) as exc:
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, last_error=str(exc)[:1000], failed_at=now
        )
        raise ValidationError({"to": f"The test message could not be sent: {exc}"}) from exc
    status = Message.Status.DELIVERED if result.status == "delivered" else Message.Status.SENT
    Message.objects.filter(pk=message.pk).update(
        status=status, provider_message_id=result.provider_message_id, sent_at=now
    )
    message.refresh_from_db()
    return message


def _contact_values(contact) -> dict:
    if contact is None:
        return {"first_name": "Alex", "last_name": "Sample", "company": "Example Inc."}
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "company": contact.company,
        "metadata": contact.metadata,
    }


# Senders ---------------------------------------------------------------------------------


def sender_clean(*, workspace: Workspace, data: dict, instance: Sender | None = None) -> dict:
    errors: dict[str, str] = {}
    channel = data.get("channel") or (instance.channel if instance else "")
    if channel not in Sender.Channel.values:
        errors["channel"] = "Channel must be sms, voice or email."
    address = (data.get("address") or "").strip()
    if channel == "email":
        try:
            validate_email(address)
            address = address.lower()
        except ValidationError:
            errors["address"] = "Enter a valid email address."
    elif channel:
        try:
            address = normalize_phone(address, workspace.default_region)
        except InvalidPhone as exc:
            errors["address"] = str(exc)
    try:
        rate = float(data.get("rate_limit_per_second", 1.0) or 0)
        if not 0 <= rate <= 1000:
            errors["rate_limit_per_second"] = "Between 0 (no limit) and 1000 per second."
    except (TypeError, ValueError):
        errors["rate_limit_per_second"] = "Must be a number."
        rate = 1.0
    if not errors:
        clash = Sender.objects.for_workspace(workspace).filter(channel=channel, address=address)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["address"] = "This workspace already has that sender."
    if errors:
        raise ValidationError(errors)
    return {
        "channel": channel,
        "address": address,
        "name": (data.get("name") or "").strip()[:120],
        "rate_limit_per_second": rate,
    }


def sender_create(*, workspace: Workspace, data: dict) -> Sender:
    return Sender.objects.create(
        workspace=workspace, **sender_clean(workspace=workspace, data=data)
    )


def sender_update(*, sender: Sender, data: dict) -> Sender:
    for key, value in sender_clean(workspace=sender.workspace, data=data, instance=sender).items():
        setattr(sender, key, value)
    sender.save()
    return sender
