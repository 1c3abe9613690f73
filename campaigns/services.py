"""Campaign writes with rules: create, update (the builder and the API), the test send."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from accounts.models import Workspace
from audiences.models import SmartGroup
from contacts.models import ContactGroup
from contacts.phones import InvalidPhone, normalize_phone
from core.ratelimit import rate_limit_hit
from engagement.tracking import MessageLinks, links_save
from messaging import templating
from messaging.guards import destination_refusal
from messaging.models import Message
from messaging.outbox import message_enqueue
from messaging.sending import outbox_send

from .models import Campaign, Channel
from .validation import (
    campaign_clean,
    campaign_data,
    campaign_validate,
    step_errors,
    step_fields,
    workspace_object,
)

EDITABLE_WHILE_ACTIVE = {"name", "max_retries", "retry_interval"}


def campaign_create(*, workspace: Workspace, data: dict) -> Campaign:
    clean = campaign_clean(workspace=workspace, data=data)
    return Campaign.objects.create(workspace=workspace, state=Campaign.State.DRAFT, **clean)


def campaign_draft_create(*, workspace: Workspace, group_id=None, smart_group_id=None) -> Campaign:
    """The builder's first step: a draft for a group or a smart group of the workspace,
    named after it."""
    group = workspace_object(workspace, ContactGroup, group_id or None, "group")
    smart_group = workspace_object(workspace, SmartGroup, smart_group_id or None, "group")
    target = group or smart_group
    if target is None or (group and smart_group):
        raise ValidationError({"group": "Choose a group or a smart group."})
    return Campaign.objects.create(
        workspace=workspace,
        group=group,
        smart_group=smart_group,
        name=f"{target.name} campaign {timezone.localdate():%Y-%m-%d}",
        timezone=workspace.timezone,
    )


def campaign_step_save(*, campaign: Campaign, step: str, data: dict) -> Campaign:
    """Save one builder step of a draft: the whole campaign is checked with the step's new
    values, and the errors of the step's own fields refuse it (later steps may still be
    incomplete). A new channel drops a sender of another channel."""
    if campaign.state != Campaign.State.DRAFT:
        raise ValidationError("This campaign has been launched: its steps are fixed.")
    merged = campaign_data(campaign) | data
    clean, errors = campaign_validate(workspace=campaign.workspace, data=merged)
    if errors := step_errors(step, errors, campaign.channel):
        raise ValidationError(errors)
    for key in step_fields(step, campaign.channel):
        setattr(campaign, key, clean[key])
    if step == "channel" and campaign.sender_id and campaign.sender.channel != campaign.channel:
        campaign.sender = None
    campaign.save()
    return campaign


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
    merged = campaign_data(campaign) | data
    if campaign.state != Campaign.State.DRAFT:
        merged["scheduled_at"] = None  # a launched schedule is not re-checked against the past
    clean = campaign_clean(workspace=campaign.workspace, data=merged)
    if campaign.state != Campaign.State.DRAFT:
        clean = {k: v for k, v in clean.items() if k in EDITABLE_WHILE_ACTIVE}
    for key, value in clean.items():
        setattr(campaign, key, value)
    campaign.save()
    return campaign


def _test_send_throttle(workspace, user) -> None:
    limits = [(f"test-send:ws:{workspace.pk}", settings.HERALD_TEST_SEND_LIMIT_WORKSPACE)]
    if getattr(user, "pk", None):
        limits.insert(0, (f"test-send:user:{user.pk}", settings.HERALD_TEST_SEND_LIMIT_USER))
    for name, limit in limits:
        if (wait := rate_limit_hit(name, limit=limit, window_seconds=3600)) is not None:
            raise ValidationError(
                {"to": f"Too many test messages this hour; try again in {wait // 60 + 1} minutes."}
            )


def _differs(campaign: Campaign, key: str, data: dict) -> bool:
    current = getattr(campaign, key, None)
    new = data[key]
    if hasattr(current, "pk"):
        return getattr(new, "pk", new) != current.pk
    return new != current


def campaign_test_send(*, campaign: Campaign, to: str, contact=None, user=None) -> Message:
    """Send the campaign's message once to one address (K11), rendered for a sample contact.

    It goes through the outbox like any message (queued, then sent at once by the same send
    path: opt-out and pacing rules, sending countries, provider errors, recorded outcome),
    without a campaign or run, so it never counts in the campaign's results. Test sends are
    limited per user and per workspace each hour (a test send is a free text to any number).
    """
    to = _test_address(campaign, to)
    if campaign.channel != "email" and (refused := destination_refusal(campaign.workspace, to)):
        raise ValidationError({"to": refused})
    _test_send_throttle(campaign.workspace, user)
    agent_name = campaign.agent.name if campaign.agent_id else ""
    context = templating.contact_context(**contact_values(contact), agent_name=agent_name)
    body, html = campaign.body_template, campaign.html_template
    links, made = None, []
    if campaign.tracks_links:  # its links work like a recipient's, but count nowhere
        links = MessageLinks(body=body, html=html, click_code=campaign.link_click_code)
        body, html, made = links.body, links.html, links.fill(context)
    message = message_enqueue(
        workspace=campaign.workspace,
        channel=campaign.channel,
        to_address=to,
        subject=("[Test] " + templating.render(campaign.subject, context))[:255],
        body=templating.render(body, context),
        html_body=templating.render(html, context, escape_html=True),
        sender=campaign.sender,
        is_test=True,
    )
    links_save(message_id=message.pk, links=made)
    outbox_send(message_ids=[message.pk])
    message.refresh_from_db()
    if message.status not in (Message.Status.SENT, Message.Status.DELIVERED):
        problem = message.last_error or message.get_status_display()
        raise ValidationError({"to": f"The test message could not be sent: {problem}"})
    return message


def _test_address(campaign: Campaign, to: str) -> str:
    to = (to or "").strip()
    if campaign.channel == Channel.EMAIL:
        try:
            validate_email(to)
        except ValidationError as exc:
            raise ValidationError({"to": "Enter a valid email address."}) from exc
        return to.lower()
    try:
        return normalize_phone(to, campaign.workspace.default_region)
    except InvalidPhone as exc:
        raise ValidationError({"to": str(exc)}) from exc


def contact_values(contact) -> dict:
    """A contact's substitution values; with no contact, a sample person's."""
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
