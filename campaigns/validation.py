"""Campaign input: every field checked and cleaned, for the builder, the API and launch.

Values arrive as the builder posts them or the API sends them (ids, ISO strings, numbers as
text); scheduled_at without a zone means the campaign's zone, and contact_local keeps it as a
wall time labelled UTC (see occurrences.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Workspace
from audiences.models import SmartGroup
from contacts.models import ContactGroup
from conversations.models import Agent
from messaging.models import Sender

from . import scheduling
from .models import Campaign, Channel

LATEST_YEAR = 2999
# Lengths the database holds (subject) and that a message sensibly has: an SMS or a call's
# script of 10,000 characters is already 60-odd segments; an email's HTML of 512 KiB.
TEXT_LIMITS = {"subject": 255, "message_template": 10_000, "html_template": 512 * 1024}

# The fields each builder step saves: every field a campaign is built with, once.
STEP_FIELDS = {
    "group": ("group", "smart_group"),
    "channel": ("channel",),
    "message": ("message_template", "subject", "html_template", "track_links", "link_click_code"),
    "settings": ("name", "agent", "sender", "max_retries", "retry_interval"),
    "schedule": (
        "timezone",
        "scheduled_at",
        "window_start_hour",
        "window_end_hour",
        "excluded_days",
        "recurrence",
    ),
}
CAMPAIGN_FIELDS = tuple(field for fields in STEP_FIELDS.values() for field in fields)


def campaign_data(campaign: Campaign) -> dict:
    """The campaign's fields as input (a contact_local schedule as its naive wall time)."""
    data = {key: getattr(campaign, key) for key in CAMPAIGN_FIELDS}
    if data["scheduled_at"] is not None and campaign.timezone == scheduling.CONTACT_LOCAL:
        data["scheduled_at"] = data["scheduled_at"].replace(tzinfo=None)
    return data


def workspace_object(workspace: Workspace, model, value, field: str):
    """The workspace's object for an id (or the object itself), None for no value; another
    workspace's object, or an id that is not one, is "not found" under `field`."""
    if value is None or value == "":
        return None
    if isinstance(value, model):
        if value.workspace_id != workspace.id:
            raise ValidationError({field: "Not found in this workspace."})
        return value
    try:
        obj = model.objects.for_workspace(workspace).filter(pk=value).first()
    except (TypeError, ValueError):
        obj = None
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
    if not isinstance(value, datetime) or not 2000 <= value.year <= LATEST_YEAR:
        # Every zone's wall time of the instant, and a year of occurrences after it, must be
        # a date Python can hold (9999-12-31 in Kiritimati is past datetime.max).
        raise ValidationError(
            {"scheduled_at": f"Enter a date and time between 2000 and {LATEST_YEAR}."}
        )
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
    """Every field checked, step by step: the cleaned values and the errors by field (a
    builder step shows the errors of its own fields: `step_errors`)."""
    clean: dict = {}
    errors: dict[str, str] = {}
    for check in CHECKS.values():
        errors.update(check(workspace, data, clean))
    return clean, errors


def step_fields(step: str, channel: str) -> tuple[str, ...]:
    """The fields a builder step saves. A call's agent is chosen with its opening message
    (the message step), since a call needs one or the other."""
    fields = STEP_FIELDS[step]
    if channel == Channel.VOICE and step == "message":
        return (*fields, "agent")
    if channel == Channel.VOICE and step == "settings":
        return tuple(field for field in fields if field != "agent")
    return fields


def step_errors(step: str, errors: dict[str, str], channel: str = Channel.SMS) -> dict[str, str]:
    """The errors a builder step shows: those of its own fields (and the schedule's window)."""
    shown = {*step_fields(step, channel), *(("sending_window",) if step == "schedule" else ())}
    return {key: text for key, text in errors.items() if key in shown}


def _check_group(workspace: Workspace, data: dict, clean: dict) -> dict[str, str]:
    """Whom it targets: a contact group or a smart group (G2), one of them."""
    clean["group"] = clean["smart_group"] = None
    try:
        clean["group"] = workspace_object(workspace, ContactGroup, data.get("group"), "group")
        clean["smart_group"] = workspace_object(
            workspace, SmartGroup, data.get("smart_group"), "smart_group"
        )
    except ValidationError as exc:
        return _first_messages(exc)
    if clean["group"] and clean["smart_group"]:
        return {"group": "Choose a contact group or a smart group, not both."}
    if not (clean["group"] or clean["smart_group"]):
        return {"group": "Choose a contact group or a smart group."}
    return {}


def _check_channel(workspace: Workspace, data: dict, clean: dict) -> dict[str, str]:
    clean["channel"] = data.get("channel") or Channel.SMS
    if clean["channel"] not in Channel.values:
        return {"channel": "Channel must be sms, email or voice."}
    return {}


def _check_settings(workspace: Workspace, data: dict, clean: dict) -> dict[str, str]:
    """Name, agent, sender (of the campaign's channel), retries."""
    errors: dict[str, str] = {}
    clean["name"] = (data.get("name") or "").strip()[:200]
    if "\x00" in clean["name"]:
        errors["name"] = "Contains a NUL character, which cannot be stored."
    if not clean["name"]:
        errors["name"] = "Give the campaign a name."
    try:
        clean["agent"] = workspace_object(workspace, Agent, data.get("agent"), "agent")
        clean["sender"] = workspace_object(workspace, Sender, data.get("sender"), "sender")
    except ValidationError as exc:
        errors.update(_first_messages(exc))
    sender, channel = clean.get("sender"), clean["channel"]
    if sender is not None and sender.channel != channel:
        errors["sender"] = f"This sender is for {sender.get_channel_display()}, not {channel}."
    for key, default, low, high in (("max_retries", 2, 0, 10), ("retry_interval", 300, 10, 86400)):
        try:
            value = int(data.get(key) if data.get(key) not in (None, "") else default)
        except (TypeError, ValueError):
            errors[key] = "Must be a whole number."
            continue
        if not low <= value <= high:
            errors[key] = f"Must be between {low} and {high}."
        clean[key] = value
    return errors


def _check_message(workspace: Workspace, data: dict, clean: dict) -> dict[str, str]:
    """What the channel needs: an email a subject, a call a message or an agent."""
    for key in ("message_template", "subject", "html_template"):
        clean[key] = data.get(key) or ""
        if not isinstance(clean[key], str):
            return {key: "Must be text."}
        if len(clean[key]) > TEXT_LIMITS[key]:
            return {key: f"At most {TEXT_LIMITS[key]:,} characters (this is {len(clean[key]):,})."}
        if "\x00" in clean[key]:
            return {key: "Contains a NUL character, which cannot be stored."}
    for key, default in (("track_links", True), ("link_click_code", False)):
        value = data.get(key, default)
        if not isinstance(value, bool):
            return {key: "Must be true or false."}
        clean[key] = value
    channel = clean["channel"]
    if channel == Channel.EMAIL and not clean["subject"].strip():
        return {"subject": "An email needs a subject."}
    if channel == Channel.VOICE and not (clean["message_template"].strip() or clean.get("agent")):
        return {"message_template": "A call needs an opening message or an agent."}
    if channel != Channel.VOICE and not (
        clean["message_template"].strip() or clean["html_template"]
    ):
        return {"message_template": "Write the message."}
    return {}


def _check_schedule(workspace: Workspace, data: dict, clean: dict) -> dict[str, str]:
    """Zone, first date (not past unless recurring), sending window, recurrence."""
    errors: dict[str, str] = {}
    tz = data.get("timezone") or workspace.timezone
    if tz != scheduling.CONTACT_LOCAL and not scheduling.is_valid_zone(tz):
        errors["timezone"] = f"Unknown time zone “{tz}”."
        tz = "UTC"
    clean["timezone"] = tz
    try:
        clean["scheduled_at"] = _scheduled_instant(data.get("scheduled_at"), tz)
    except ValidationError as exc:
        errors.update(_first_messages(exc))
    errors.update(_check_window(data, clean))
    try:
        clean["recurrence"] = scheduling.validate_recurrence(data.get("recurrence"))
    except scheduling.ScheduleError as exc:
        errors["recurrence"] = str(exc)
    if clean.get("recurrence") and not clean.get("scheduled_at"):
        errors["scheduled_at"] = "A recurring campaign needs its first date and time."
    if "scheduled_at" not in errors and _is_past(clean):
        errors["scheduled_at"] = "The scheduled time is in the past."
    return errors


def _check_window(data: dict, clean: dict) -> dict[str, str]:
    try:
        window = scheduling.validate_window(
            _int_or_none(data.get("window_start_hour")),
            _int_or_none(data.get("window_end_hour")),
            data.get("excluded_days") or [],
        )
    except (scheduling.ScheduleError, ValueError) as exc:
        return {"sending_window": str(exc)}
    explicit = data.get("window_start_hour") not in (None, "")
    clean["window_start_hour"] = window.start_hour if explicit else None
    clean["window_end_hour"] = window.end_hour if explicit else None
    clean["excluded_days"] = list(window.excluded_days)
    return {}


# In the builder's order; settings come before the message, which needs the agent.
CHECKS = {
    "group": _check_group,
    "channel": _check_channel,
    "settings": _check_settings,
    "message": _check_message,
    "schedule": _check_schedule,
}


def _first_messages(exc: ValidationError) -> dict[str, str]:
    return {key: messages[0] for key, messages in exc.message_dict.items()}


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
