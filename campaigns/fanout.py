"""Fan-out (K5, K6, K8): a campaign run becomes one outbox Message per group member.

Each message is rendered for its contact, skipped with the reason when it cannot go (opted
out, no address, invalid, at the frequency cap), and given its `send_after` from the run's
wall time, the recipient's zone and the sending window or quiet hours. Rows go to the outbox
through its bulk writer in batches that commit with the run's cursor, so a crash resumes where
it stopped.
"""

from __future__ import annotations

import json
import time as time_module
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from audiences.compiler import definition_q, scope_for
from audiences.definition import definition_parse
from contacts.models import Contact
from engagement.tracking import MessageLinks, run_links_save
from messaging import templating
from messaging.caps import Cap, capped_contacts, workspace_cap
from messaging.models import Message
from messaging.writer import STATUS_INDEX, message_writer

from . import scheduling
from .models import Campaign, CampaignRun
from .occurrences import campaign_window, run_wall

S = Message.Status
FANOUT_BATCH = 10000
CONTACT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "timezone",
    "status",
    "is_valid",
)
# Metadata is read as text and decoded in _message_row, while the server writes the rows
# already sent. raw_decode is json.loads without its whitespace checks (3x faster here), and
# a jsonb column's text has no surrounding whitespace.
_decode_json = json.JSONDecoder().raw_decode


@dataclass
class _FanoutPlan:
    """Everything per run that does not change per contact, computed once."""

    campaign: Campaign
    run: CampaignRun
    wall: datetime | None
    not_before: datetime
    window: scheduling.Window
    window_in_recipient_zone: bool
    needs_zone: bool
    zone: str  # every recipient's zone when it does not depend on the contact
    workspace_tz: str
    agent_name: str
    sender_id: int | None
    needs_metadata: bool
    body: tuple = ()
    subject: tuple = ()
    html: tuple = ()
    send_after_by_zone: dict = field(default_factory=dict)
    audience: Q | None = None  # a smart group's conditions (G2), else the group's members
    cap: Cap | None = None  # the workspace's frequency cap (H3)
    capped: set = field(default_factory=set)  # contacts of the batch at the cap
    links: MessageLinks | None = None  # tracked links (E1): the templates' links as slots
    made_links: list = field(default_factory=list)  # (contact id, [(code, url)...]) of the batch

    def send_after(self, recipient_tz: str) -> datetime:
        cached = self.send_after_by_zone.get(recipient_tz)
        if cached is None:
            cached = scheduling.send_after_for(
                wall=self.wall,
                campaign_tz=self.campaign.timezone,
                recipient_tz=recipient_tz,
                window=self.window,
                window_in_recipient_zone=self.window_in_recipient_zone,
                not_before=self.not_before,
            )
            self.send_after_by_zone[recipient_tz] = cached
        return cached

    def recipient_zone(self, contact_tz: str, phone: str) -> str:
        if not self.needs_zone:
            return self.zone
        return scheduling.contact_zone(
            contact_timezone=contact_tz, phone=phone, workspace_timezone=self.workspace_tz
        )


def _plan(run: CampaignRun) -> _FanoutPlan:
    campaign = run.campaign
    workspace = campaign.workspace
    window, quiet = campaign_window(campaign)
    contact_local = campaign.timezone == scheduling.CONTACT_LOCAL
    # Quiet hours are the recipient's; an explicit window is the campaign zone's unless the
    # campaign itself is contact_local.
    in_recipient = contact_local or quiet
    body, html = campaign.body_template, campaign.html_template
    links = None
    if campaign.tracks_links:
        links = MessageLinks(body=body, html=html, click_code=campaign.link_click_code) or None
        body, html = (links.body, links.html) if links else (body, html)
    not_before = run.started_at or run.occurrence_at
    return _FanoutPlan(
        campaign=campaign,
        run=run,
        audience=_audience(campaign, not_before),
        cap=workspace_cap(workspace),
        wall=run_wall(campaign, run),
        not_before=not_before,
        window=window,
        window_in_recipient_zone=in_recipient,
        needs_zone=contact_local or (in_recipient and not window.is_always_open),
        zone=workspace.timezone if contact_local else campaign.timezone,
        workspace_tz=workspace.timezone,
        agent_name=campaign.agent.name if campaign.agent_id else "",
        sender_id=campaign.sender_id,
        body=templating.compile_template(body),
        subject=templating.compile_template(campaign.subject),
        html=templating.compile_template(html),
        links=links,
        needs_metadata=any(
            v.name not in templating.BUILTIN
            for t in (campaign.body_template, campaign.subject, campaign.html_template)
            for v in templating.variables(t)
        ),
    )


def _audience(campaign: Campaign, now: datetime) -> Q | None:
    """The smart group's WHERE as it reads now (G2): each run reaches whoever matches when it
    starts, every batch of the run with the same clock. None for a group's campaign."""
    if campaign.smart_group_id:
        definition = definition_parse(campaign.smart_group.definition)
        return definition_q(definition, scope_for(campaign.workspace, now))
    if campaign.group_id is None:
        raise ValueError("the campaign's group or smart group was deleted")
    return None


def _message_row(plan: _FanoutPlan, row: tuple, now: datetime) -> tuple:
    (contact_id, first, last, email, phone, company, tz, status, is_valid, metadata) = row
    campaign = plan.campaign
    address = email if campaign.channel == "email" else phone
    skip = ""
    if status == Contact.Status.OPTED_OUT:
        skip = Message.SkipReason.OPTED_OUT
    elif not address:
        skip = Message.SkipReason.NO_ADDRESS
    elif not is_valid:
        skip = Message.SkipReason.INVALID
    elif contact_id in plan.capped:
        skip = Message.SkipReason.CAPPED
    subject = body = html_body = ""
    if skip:
        send_after = now
    else:
        context = templating.contact_context(
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            company=company,
            metadata=_decode_json(metadata)[0] if metadata else None,
            agent_name=plan.agent_name,
        )
        if plan.links is not None and (made := plan.links.fill(context)):
            plan.made_links.append((contact_id, made))
        body = templating.render_compiled(plan.body, context)
        if plan.subject:  # SMS and voice have neither subject nor HTML: no rendering
            subject = templating.render_compiled(plan.subject, context)[:255]
        if plan.html:
            html_body = templating.render_compiled(plan.html, context, escape_html=True)
        send_after = plan.send_after(plan.recipient_zone(tz, phone))
    return (
        campaign.workspace_id,
        plan.run.id,
        campaign.id,
        contact_id,
        campaign.channel,
        address,
        subject,
        body,
        html_body,
        plan.sender_id,
        send_after,
        S.SKIPPED if skip else S.QUEUED,
        skip,
        0,
        "",
        "",
        "",
        now,
        now,
    )


def run_fan_out(*, run_id: int, time_budget: float | None = None, batch: int = FANOUT_BATCH):
    """Create the run's Message rows in batches; returns True when the fan-out is complete.

    Each batch is one transaction that locks the run row, reads the cursor (last contact id),
    inserts the batch (COPY on PostgreSQL) and advances the cursor, so a crash or a second
    tick resumes where the last commit stopped and never inserts a contact twice.
    """
    deadline = None if time_budget is None else time_module.monotonic() + time_budget
    with transaction.atomic():
        run = (
            CampaignRun.objects.select_for_update(of=("self",))
            .select_related("campaign__workspace", "campaign__agent", "campaign__smart_group")
            .get(id=run_id)
        )
        if run.state == CampaignRun.State.PENDING:
            run.state = CampaignRun.State.FANNING_OUT
            run.started_at = run.started_at or timezone.now()
            run.save(update_fields=["state", "started_at"])
    if run.state != CampaignRun.State.FANNING_OUT:
        return True
    plan = _plan(run)
    while True:
        try:
            done = _fan_out_batch(plan, batch)
        except IntegrityError:
            if plan.links is None:
                raise
            # A new link code was taken already (see engagement/codes.py for how seldom): the
            # batch rolled back whole, and is made again with new codes.
            done = _fan_out_batch(plan, batch)
        if done:
            return True
        if deadline is not None and time_module.monotonic() > deadline:
            return False


def _fan_out_batch(plan: _FanoutPlan, batch: int) -> bool:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The batch and its cursor commit together, so a batch lost in a crash is simply
            # made again from the last durable cursor: no need to wait for the WAL flush.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        run = CampaignRun.objects.select_for_update().get(id=plan.run.id)
        if run.state != CampaignRun.State.FANNING_OUT:
            return True
        with in_id_order(plan):
            rows = list(_members(plan, run.fanout_cursor, batch))
        if not rows:
            run.state = CampaignRun.State.RUNNING
            run.save(update_fields=["state"])
            return True
        now = timezone.now()
        skipped = 0
        plan.made_links.clear()
        if plan.cap is not None:
            plan.capped = capped_contacts(
                cap=plan.cap,
                contact_ids=[row[0] for row in rows],
                at=now,
                include_queued=True,
                exclude_run_id=run.id,
            )
        if plan.links is not None:
            plan.links.reserve(len(rows))
        with message_writer() as write:
            for row in rows:
                message = _message_row(plan, row, now)
                skipped += message[STATUS_INDEX] == S.SKIPPED
                write(message)
        run_links_save(run_id=run.id, links=plan.made_links)
        run.fanout_cursor = rows[-1][0]
        run.total += len(rows)
        run.skipped += skipped
        run.save(update_fields=["fanout_cursor", "total", "skipped"])
    return len(rows) < batch and _finish_fan_out(plan.run.id)


def _members(plan: _FanoutPlan, cursor: int, batch: int):
    """The group's (or smart group's) next contacts after the cursor, in id order (the keyset
    of the batches)."""
    # Metadata is only read when a template uses it.
    metadata = Cast("metadata", TextField()) if plan.needs_metadata else Value(None, TextField())
    if plan.audience is not None:
        contacts = Contact.objects.filter(
            plan.audience, workspace_id=plan.campaign.workspace_id, id__gt=cursor
        )
    else:
        contacts = Contact.objects.filter(
            memberships__group_id=plan.campaign.group_id,
            # Both sides of the join start at the cursor, or a merge join reads the contacts
            # from the first one on every batch.
            memberships__contact_id__gt=cursor,
            id__gt=cursor,
        )
    return (
        contacts.annotate(metadata_text=metadata)
        .order_by("id")
        .values_list(*CONTACT_COLUMNS, "metadata_text")[:batch]
    )


@contextmanager
def in_id_order(plan: _FanoutPlan) -> Iterator[None]:
    """A smart group's batch read in id order, not read whole and sorted (PostgreSQL; inside
    the batch's transaction). The planner has no statistics for a condition such as a custom
    field's value and guesses it matches 0.5% of contacts: it then scans and sorts every
    contact after the cursor for each batch of 10,000 (a second each at a million contacts,
    so the fan-out grew with the square of its size). Walking the primary key from the
    cursor reads each contact once over the whole fan-out. Without parallel workers: for one
    batch they only add their start (a batch read in 32-48 ms with two, 11-15 ms alone, here)."""
    if plan.audience is None or connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_sort = DEFAULT")
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = DEFAULT")


def _finish_fan_out(run_id: int) -> bool:
    CampaignRun.objects.filter(id=run_id, state=CampaignRun.State.FANNING_OUT).update(
        state=CampaignRun.State.RUNNING
    )
    return True
