"""The outbox engine (M2, M3, K7): fan-out, claim, send, retry, sweep, reconcile, complete.

The database is the queue's truth; Celery only carries batches of ids. Each message row moves
queued → (claimed: queued with a lease) → sending → sent/delivered/failed/unknown/skipped:

* claim: `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; plain locking elsewhere) picks due rows
  of unpaused runs and gives them a lease. A claim whose task never runs is claimable again
  when its lease expires (the sweeper clears it; Redis may lose the task, that is fine).
* send: one conditional UPDATE moves the batch from queued to `sending` and is committed
  before any provider call, so a task that runs twice finds nothing to send the second time.
* a row still in `sending` when its lease expires was caught by a crash: it becomes `unknown`
  and is reconciled with the provider (backend.reconcile), never re-sent blindly.
"""

from __future__ import annotations

import json
import logging
import math
import time as time_module
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import Workspace
from campaigns import scheduling
from campaigns.models import Campaign, CampaignRun
from contacts.models import Contact

from . import hooks, templating
from .backends import (
    PermanentError,
    RetryableError,
    SendResult,
    UnknownOutcome,
    get_backend,
)
from .models import Message, Sender

logger = logging.getLogger("herald.outbox")

S = Message.Status
OPEN_STATUSES = (S.QUEUED, S.SENDING)
FANOUT_BATCH = 10000
TICK_LOCK_KEY = 0x4E52414C44  # "HERALD"-ish: the PostgreSQL advisory lock of the tick
# A message whose outcome stays unknown this long, and that the provider cannot confirm,
# is failed with that reason (never re-sent).
UNKNOWN_GIVE_UP = timedelta(hours=24)
PAUSE_CHECK_SECONDS = 0.5  # how often a sending batch looks for a pause


def _now() -> datetime:
    return timezone.now()


def _is_pg() -> bool:
    return connection.vendor == "postgresql"


# Runs ---------------------------------------------------------------------------------------


def runs_start_due(*, now: datetime | None = None) -> list[int]:
    """Create the run of every campaign whose next occurrence is due; advance the schedule.

    Concurrent ticks are safe: the campaign row is locked (skip locked) and the run is unique
    per (campaign, occurrence).
    """
    now = now or _now()
    started: list[int] = []
    due = Campaign.objects.filter(
        state__in=[Campaign.State.SCHEDULED, Campaign.State.RUNNING], next_run_at__lte=now
    ).values_list("id", flat=True)
    for campaign_id in list(due[:100]):
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(
                    id=campaign_id,
                    state__in=[Campaign.State.SCHEDULED, Campaign.State.RUNNING],
                    next_run_at__lte=now,
                )
                .first()
            )
            if campaign is None:
                continue
            run, created = CampaignRun.objects.get_or_create(
                campaign=campaign,
                occurrence_at=campaign.next_run_at,
                defaults={
                    "workspace_id": campaign.workspace_id,
                    "state": CampaignRun.State.PENDING,
                },
            )
            campaign.next_run_at = _following_occurrence(campaign, campaign.next_run_at, now)
            campaign.state = Campaign.State.RUNNING
            campaign.save(update_fields=["next_run_at", "state", "updated_at"])
            if created:
                started.append(run.id)
    return started


def campaign_first_wall(campaign: Campaign) -> datetime | None:
    """The local wall time of the campaign's schedule (naive), or None for "send now".

    scheduled_at is stored as the instant in the campaign's zone; for contact_local it holds
    the wall time labelled UTC (it is a different instant for every recipient).
    """
    if campaign.scheduled_at is None:
        return None
    tz = "UTC" if campaign.timezone == scheduling.CONTACT_LOCAL else campaign.timezone
    return scheduling.to_wall(campaign.scheduled_at, tz)


def run_wall(campaign: Campaign, run: CampaignRun) -> datetime | None:
    """The wall time a run stands for (None: send at once)."""
    if campaign.scheduled_at is None and not campaign.recurrence:
        return None
    tz = scheduling.EARLIEST_ZONE if campaign.timezone == scheduling.CONTACT_LOCAL else None
    return scheduling.to_wall(run.occurrence_at, tz or campaign.timezone)


def _following_occurrence(campaign: Campaign, current: datetime, now: datetime):
    """The next run's start after `current` for a recurring campaign (missed ones skipped)."""
    if not campaign.recurrence:
        return None
    first = campaign_first_wall(campaign)
    tz = (
        scheduling.EARLIEST_ZONE
        if campaign.timezone == scheduling.CONTACT_LOCAL
        else campaign.timezone
    )
    after = max(scheduling.to_wall(current, tz), scheduling.to_wall(now, tz))
    wall = scheduling.next_occurrence_wall(campaign.recurrence, first, after, inclusive=False)
    return scheduling.occurrence_instant(wall, campaign.timezone) if wall else None


# Fan-out ------------------------------------------------------------------------------------

# The Message columns a fan-out writes, with their PostgreSQL types (binary COPY needs them).
COPY_COLUMNS = (
    ("workspace_id", "int8"),
    ("run_id", "int8"),
    ("campaign_id", "int8"),
    ("contact_id", "int8"),
    ("channel", "varchar"),
    ("to_address", "varchar"),
    ("subject", "varchar"),
    ("body", "text"),
    ("html_body", "text"),
    ("sender_id", "int8"),
    ("send_after", "timestamptz"),
    ("status", "varchar"),
    ("skip_reason", "varchar"),
    ("attempts", "int2"),
    ("last_error", "text"),
    ("error_code", "varchar"),
    ("provider_message_id", "varchar"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)
STATUS_INDEX = [name for name, _ in COPY_COLUMNS].index("status")
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
    window, quiet = scheduling.effective_window(
        channel=campaign.channel,
        start_hour=campaign.window_start_hour,
        end_hour=campaign.window_end_hour,
        excluded_days=campaign.excluded_days,
        quiet_start_hour=workspace.quiet_start_hour,
        quiet_end_hour=workspace.quiet_end_hour,
    )
    contact_local = campaign.timezone == scheduling.CONTACT_LOCAL
    # Quiet hours are the recipient's; an explicit window is the campaign zone's unless the
    # campaign itself is contact_local.
    in_recipient = contact_local or quiet
    return _FanoutPlan(
        campaign=campaign,
        run=run,
        wall=run_wall(campaign, run),
        not_before=run.started_at or run.occurrence_at,
        window=window,
        window_in_recipient_zone=in_recipient,
        needs_zone=contact_local or (in_recipient and not window.is_always_open),
        zone=workspace.timezone if contact_local else campaign.timezone,
        workspace_tz=workspace.timezone,
        agent_name=campaign.agent.name if campaign.agent_id else "",
        sender_id=campaign.sender_id,
        body=templating.compile_template(_body_template(campaign)),
        subject=templating.compile_template(campaign.subject),
        html=templating.compile_template(campaign.html_template),
        needs_metadata=any(
            v.name not in templating.BUILTIN
            for t in (_body_template(campaign), campaign.subject, campaign.html_template)
            for v in templating.variables(t)
        ),
    )


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


def _body_template(campaign: Campaign) -> str:
    """Voice calls speak the agent's opening message when the campaign has no message."""
    if campaign.channel == "voice" and not campaign.message_template and campaign.agent_id:
        return campaign.agent.opening_message
    return campaign.message_template


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
            .select_related("campaign__workspace", "campaign__agent")
            .get(id=run_id)
        )
        if run.state == CampaignRun.State.PENDING:
            run.state = CampaignRun.State.FANNING_OUT
            run.started_at = run.started_at or _now()
            run.save(update_fields=["state", "started_at"])
    if run.state != CampaignRun.State.FANNING_OUT:
        return True
    plan = _plan(run)
    while True:
        done = _fan_out_batch(plan, batch)
        if done:
            return True
        if deadline is not None and time_module.monotonic() > deadline:
            return False


def _fan_out_batch(plan: _FanoutPlan, batch: int) -> bool:
    with transaction.atomic():
        if _is_pg():
            # The batch and its cursor commit together, so a batch lost in a crash is simply
            # made again from the last durable cursor: no need to wait for the WAL flush.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        run = CampaignRun.objects.select_for_update().get(id=plan.run.id)
        if run.state != CampaignRun.State.FANNING_OUT:
            return True
        rows = list(_members(plan, run.fanout_cursor, batch))
        if not rows:
            run.state = CampaignRun.State.RUNNING
            run.save(update_fields=["state"])
            return True
        now = _now()
        skipped = 0
        with _message_writer() as write:
            for row in rows:
                message = _message_row(plan, row, now)
                skipped += message[STATUS_INDEX] == S.SKIPPED
                write(message)
        run.fanout_cursor = rows[-1][0]
        run.total += len(rows)
        run.skipped += skipped
        run.save(update_fields=["fanout_cursor", "total", "skipped"])
    return len(rows) < batch and _finish_fan_out(plan.run.id)


def _members(plan: _FanoutPlan, cursor: int, batch: int):
    """The group's next contacts after the cursor, in id order (the keyset of the batches)."""
    # Metadata is only read when a template uses it.
    metadata = Cast("metadata", TextField()) if plan.needs_metadata else Value(None, TextField())
    return (
        Contact.objects.filter(
            memberships__group_id=plan.campaign.group_id,
            # Both sides of the join start at the cursor, or a merge join reads the contacts
            # from the first one on every batch.
            memberships__contact_id__gt=cursor,
            id__gt=cursor,
        )
        .annotate(metadata_text=metadata)
        .order_by("id")
        .values_list(*CONTACT_COLUMNS, "metadata_text")[:batch]
    )


def _finish_fan_out(run_id: int) -> bool:
    CampaignRun.objects.filter(id=run_id, state=CampaignRun.State.FANNING_OUT).update(
        state=CampaignRun.State.RUNNING
    )
    return True


@contextmanager
def _message_writer():
    """Yields a function that takes one Message row (COPY_COLUMNS order).

    On PostgreSQL it is a binary COPY, streamed: the server inserts and indexes the rows
    already sent while this process renders the next ones, and binary spares it parsing
    text. Elsewhere the rows are bulk-created at the end.
    """
    if _is_pg():
        names = ", ".join(name for name, _ in COPY_COLUMNS)
        sql = f"COPY messaging_message ({names}) FROM STDIN (FORMAT BINARY)"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            copy.set_types([kind for _, kind in COPY_COLUMNS])
            yield copy.write_row
        return
    rows: list[tuple] = []
    yield rows.append
    fields = [name for name, _ in COPY_COLUMNS]
    Message.objects.bulk_create(
        [Message(**dict(zip(fields, row, strict=True))) for row in rows],
        ignore_conflicts=True,
        batch_size=500,
    )


# Enqueue, claim, sweep ------------------------------------------------------------------------


def message_enqueue(
    *,
    workspace: Workspace,
    channel: str,
    to_address: str,
    body: str,
    contact: Contact | None = None,
    sender: Sender | None = None,
    subject: str = "",
    html_body: str = "",
) -> Message:
    """Queue one message outside any campaign (a reply, a test send); the pump sends it."""
    return Message.objects.create(
        workspace=workspace,
        contact=contact,
        channel=channel,
        to_address=to_address,
        subject=subject,
        body=body,
        html_body=html_body,
        sender=sender,
        send_after=_now(),
        status=S.QUEUED,
    )


def _claimable(now: datetime):
    return Message.objects.filter(status=S.QUEUED, send_after__lte=now).filter(
        (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        & (Q(run__isnull=True) | Q(run__paused=False))
    )


def outbox_claim(*, limit: int, now: datetime | None = None) -> list[int]:
    """Lease up to `limit` due messages and return their ids (rate limits respected)."""
    now = now or _now()
    lease = now + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    ids: list[int] = []
    limited = _limited_senders(now)
    with transaction.atomic():
        for sender_id, budget in limited.items():
            if budget > 0 and len(ids) < limit:
                ids += _lock(
                    _claimable(now).filter(sender_id=sender_id), min(budget, limit - len(ids))
                )
        if len(ids) < limit:
            qs = _claimable(now)
            if limited:
                qs = qs.exclude(sender_id__in=list(limited))
            ids += _lock(qs, limit - len(ids))
        if ids:
            Message.objects.filter(id__in=ids).update(lease_expires_at=lease)
    return ids


def _lock(queryset, limit: int) -> list[int]:
    return list(
        queryset.order_by("send_after")  # the pump index order: no sort of all due rows
        .select_for_update(skip_locked=True, of=("self",))
        .values_list("id", flat=True)[:limit]
    )


def _limited_senders(now: datetime) -> dict[int, int]:
    """Senders with a rate limit that have due work, and how many more may be claimed now.

    The budget is rate × one tick (at least one second) minus what is already in flight; the
    send loop also spaces a sender's sends by 1/rate, so the rate holds across workers.
    """
    window = max(float(settings.HERALD_TICK_SECONDS), 1.0)
    senders = Sender.objects.filter(
        rate_limit_per_second__gt=0,
        campaigns__state__in=[Campaign.State.RUNNING],
    ).distinct()
    budgets = {}
    for sender in senders:
        in_flight = Message.objects.filter(sender=sender, lease_expires_at__gt=now).count()
        budgets[sender.id] = max(math.ceil(sender.rate_limit_per_second * window) - in_flight, 0)
    return budgets


def outbox_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Expired claims go back to the queue; rows caught in `sending` become `unknown`."""
    now = now or _now()
    released = Message.objects.filter(status=S.QUEUED, lease_expires_at__lt=now).update(
        lease_expires_at=None, updated_at=now
    )
    lost = Message.objects.filter(status=S.SENDING, lease_expires_at__lt=now).update(
        status=S.UNKNOWN,
        lease_expires_at=None,
        last_error="The worker stopped during the send; checking with the provider.",
        updated_at=now,
    )
    if released or lost:
        logger.warning("sweeper: %s expired claims re-queued, %s sends unknown", released, lost)
    return released, lost


def outbox_reconcile(*, limit: int = 200, now: datetime | None = None) -> int:
    """Ask the provider about `unknown` messages: record what it says, re-queue what it lacks
    (the `requeued` hook hears of those, the `status` hook of the others)."""
    now = now or _now()
    moved: list[tuple[int, str]] = []
    for message in Message.objects.filter(status=S.UNKNOWN).select_related("sender")[:limit]:
        status = _reconcile_one(message, now)
        if status is not None:
            moved.append((message.id, status))
    if requeued := [message_id for message_id, status in moved if status == S.QUEUED]:
        hooks.fire("requeued", message_ids=requeued)
    hooks.statuses_changed(moved)
    return len(moved)


def _reconcile_one(message: Message, now: datetime) -> str | None:
    """The status the provider's answer moved the message to, or None."""
    result = get_backend(message.channel).reconcile(message)
    unknown = Message.objects.filter(id=message.id, status=S.UNKNOWN)
    if result.status == "not_found":
        fields = {"status": S.QUEUED, "send_after": now, "last_error": ""}
    elif result.status in (S.SENT, S.DELIVERED, S.UNDELIVERED, S.FAILED):
        fields = {"status": result.status, _timestamp_field(result.status): now}
        if result.provider_message_id:
            fields["provider_message_id"] = result.provider_message_id
        if result.error:
            fields.update(last_error=result.error[:1000], error_code=result.error_code[:32])
    elif now - message.updated_at > UNKNOWN_GIVE_UP:
        fields = {
            "status": S.FAILED,
            "failed_at": now,
            "last_error": "Outcome unknown: the provider could not confirm the send.",
        }
    else:
        return None
    return fields["status"] if unknown.update(**fields, updated_at=now) else None


def _timestamp_field(status: str) -> str:
    return {
        S.SENT: "sent_at",
        S.DELIVERED: "delivered_at",
        S.READ: "read_at",
    }.get(status, "failed_at")


# Send -----------------------------------------------------------------------------------------

_next_slot: dict[int, float] = {}  # sender id → monotonic time of its next allowed send


@dataclass
class _Outcome:
    id: int
    status: str
    provider_message_id: str = ""
    error: str = ""
    error_code: str = ""
    send_after: datetime | None = None
    attempts: int = 0


def outbox_send(*, message_ids: Iterable[int]) -> dict[str, int]:
    """Send claimed messages exactly once each; returns counts by outcome.

    Step 1 commits the batch as `sending` (only rows still queued, of unpaused runs). A paused
    run's claimed rows are released at once. Opted-out or deleted contacts are skipped.
    """
    ids = list(message_ids)
    if not ids:
        return {}
    now = _now()
    sending_lease = now + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    with transaction.atomic():
        paused = Message.objects.filter(id__in=ids, status=S.QUEUED, run__paused=True)
        paused.update(lease_expires_at=None, updated_at=now)
        claimed = _mark_sending(ids, sending_lease, now)
    if not claimed:
        return {}
    messages = list(
        Message.objects.filter(id__in=claimed, status=S.SENDING)
        .select_related("sender", "campaign", "contact")
        .order_by("id")
    )
    counts: dict[str, int] = {}
    pending: list[_Outcome] = []
    last_flush = last_pause_check = time_module.monotonic()
    run_ids = {m.run_id for m in messages if m.run_id}
    released: set[int] = set()
    for index, message in enumerate(messages):
        if run_ids and time_module.monotonic() - last_pause_check > PAUSE_CHECK_SECONDS:
            last_pause_check = time_module.monotonic()
            released |= _release_if_paused(messages[index:], run_ids)
        if message.id in released:
            continue
        outcome = _send_one(message)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        pending.append(outcome)
        if len(pending) >= 100 or time_module.monotonic() - last_flush > 1.0:
            _record(pending)
            pending, last_flush = [], time_module.monotonic()
            _extend_lease([m.id for m in messages[index + 1 :] if m.id not in released])
    _record(pending)
    return counts


def _extend_lease(ids: list[int]) -> None:
    """A slow provider: keep the rest of a live batch from being taken for crashed."""
    if ids:
        lease = _now() + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
        Message.objects.filter(id__in=ids, status=S.SENDING).update(lease_expires_at=lease)


def _release_if_paused(unsent: list[Message], run_ids: set[int]) -> set[int]:
    """A run paused mid-batch: put its unsent messages back in the queue, untouched."""
    paused = set(
        CampaignRun.objects.filter(id__in=run_ids, paused=True).values_list("id", flat=True)
    )
    if not paused:
        return set()
    ids = [m.id for m in unsent if m.run_id in paused]
    Message.objects.filter(id__in=ids, status=S.SENDING).update(
        status=S.QUEUED, attempts=F("attempts") - 1, lease_expires_at=None, updated_at=_now()
    )
    return set(ids)


def _mark_sending(ids: list[int], lease: datetime, now: datetime) -> list[int]:
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        "UPDATE messaging_message SET status = %s, attempts = attempts + 1, "
        "lease_expires_at = %s, updated_at = %s "
        f"WHERE id IN ({placeholders}) AND status = %s AND NOT EXISTS (SELECT 1 FROM "
        "campaigns_campaignrun r WHERE r.id = messaging_message.run_id AND r.paused = %s)"
        " RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [S.SENDING, lease, now, *ids, S.QUEUED, True])
        return [row[0] for row in cursor.fetchall()]


def _send_one(message: Message) -> _Outcome:
    contact = message.contact  # None also when the id points nowhere (see Message.contact)
    if contact is None and message.run_id is not None:
        return _Outcome(message.id, S.SKIPPED, error=Message.SkipReason.DELETED)
    if contact is not None and contact.status == Contact.Status.OPTED_OUT:
        return _Outcome(message.id, S.SKIPPED, error=Message.SkipReason.OPTED_OUT)
    _pace(message.sender)
    try:
        result: SendResult = get_backend(message.channel).send(message)
    except RetryableError as exc:
        return _retry_or_fail(message, exc)
    except PermanentError as exc:
        if exc.opt_out and contact is not None:
            _opt_out(contact, str(exc))
        return _Outcome(message.id, S.FAILED, error=str(exc), error_code=exc.code)
    except UnknownOutcome as exc:
        return _Outcome(message.id, S.UNKNOWN, error=str(exc), error_code=exc.code)
    except Exception as exc:  # a bug or an unexpected library error: outcome unknown
        logger.exception("backend %s crashed on message %s", message.channel, message.id)
        return _Outcome(message.id, S.UNKNOWN, error=f"{type(exc).__name__}: {exc}")
    status = S.DELIVERED if result.status == S.DELIVERED else S.SENT
    return _Outcome(message.id, status, provider_message_id=result.provider_message_id)


def _retry_or_fail(message: Message, exc: RetryableError) -> _Outcome:
    campaign = message.campaign
    max_retries = campaign.max_retries if campaign else 0
    if message.attempts <= max_retries:
        delay = campaign.retry_interval if campaign else 60
        return _Outcome(
            message.id,
            S.QUEUED,
            error=str(exc),
            error_code=exc.code,
            send_after=_now() + timedelta(seconds=delay),
        )
    return _Outcome(message.id, S.FAILED, error=str(exc), error_code=exc.code)


def _opt_out(contact: Contact, detail: str) -> None:
    from contacts.services import contact_opt_out

    contact_opt_out(contact=contact, reason=Contact.OptOutReason.BAD_RESPONSE, detail=detail)


def _pace(sender: Sender | None) -> None:
    if sender is None or sender.rate_limit_per_second <= 0:
        return
    interval = 1.0 / sender.rate_limit_per_second
    now = time_module.monotonic()
    slot = _next_slot.get(sender.id, now)
    if slot > now:
        time_module.sleep(slot - now)
    _next_slot[sender.id] = max(slot, now) + interval


def _record(outcomes: list[_Outcome]) -> None:
    """Write outcomes; only rows still `sending` change status (a webhook may be faster)."""
    if not outcomes:
        return
    now = _now()
    rows = [_outcome_fields(o, now) for o in outcomes]
    with transaction.atomic():
        if _is_pg():
            changed = _record_pg(rows, now)
        else:
            changed = {
                row["id"]
                for row in rows
                if Message.objects.filter(id=row["id"], status=S.SENDING).update(
                    **{k: v for k, v in row.items() if k != "id" and v is not None},
                    lease_expires_at=None,
                    updated_at=now,
                )
            }
        for o in outcomes:
            if o.id not in changed and o.provider_message_id:
                # A status callback got here first: keep its status, add the provider id.
                Message.objects.filter(id=o.id, provider_message_id="").update(
                    provider_message_id=o.provider_message_id, lease_expires_at=None
                )
    hooks.statuses_changed((o.id, o.status) for o in outcomes if o.id in changed)


RECORD_COLUMNS = (
    ("id", "bigint"),
    ("status", "varchar"),
    ("provider_message_id", "varchar"),
    ("skip_reason", "varchar"),
    ("last_error", "text"),
    ("error_code", "varchar"),
    ("sent_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("failed_at", "timestamptz"),
    ("send_after", "timestamptz"),
)


def _outcome_fields(o: _Outcome, now: datetime) -> dict:
    """The columns an outcome sets; None means "leave as it is"."""
    row = dict.fromkeys(name for name, _ in RECORD_COLUMNS)
    row.update(id=o.id, status=o.status, provider_message_id=o.provider_message_id or None)
    if o.status == S.SKIPPED:
        row["skip_reason"] = o.error
    elif o.status in (S.SENT, S.DELIVERED):
        row.update(sent_at=now, last_error="")
        if o.status == S.DELIVERED:
            row["delivered_at"] = now
    else:
        row.update(last_error=o.error[:1000], error_code=(o.error_code or "")[:32])
        if o.status == S.FAILED:
            row["failed_at"] = now
        row["send_after"] = o.send_after
    return row


def _record_pg(rows: list[dict], now: datetime) -> set[int]:
    """One UPDATE … FROM (VALUES …) for the whole flush instead of one statement per row."""
    one = "(" + ", ".join(f"%s::{kind}" for _, kind in RECORD_COLUMNS) + ")"
    values = ", ".join([one] * len(rows))
    names = ", ".join(name for name, _ in RECORD_COLUMNS)
    sets = ", ".join(
        f"{name} = COALESCE(v.{name}, m.{name})" for name, _ in RECORD_COLUMNS if name != "id"
    )
    sql = (
        f"UPDATE messaging_message AS m SET {sets}, lease_expires_at = NULL, updated_at = %s "
        f"FROM (VALUES {values}) AS v({names}) "
        "WHERE m.id = v.id AND m.status = %s RETURNING m.id"
    )
    params: list = [now]  # the SET clause's placeholder comes first, then the VALUES
    for row in rows:
        params.extend(row[name] for name, _ in RECORD_COLUMNS)
    params.append(S.SENDING)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


# Completion and the tick ------------------------------------------------------------------------


def runs_complete_finished(*, now: datetime | None = None) -> list[int]:
    """Runs with nothing queued or sending complete; so do one-off campaigns with all runs done."""
    now = now or _now()
    open_messages = Message.objects.filter(  # the campaign id makes it an exact index lookup
        campaign_id=OuterRef("campaign_id"), run=OuterRef("pk"), status__in=OPEN_STATUSES
    )
    finished = list(
        CampaignRun.objects.filter(state=CampaignRun.State.RUNNING)
        .annotate(has_open=Exists(open_messages))
        .filter(has_open=False)
        .values_list("id", "campaign_id")
    )
    for run_id, _ in finished:
        CampaignRun.objects.filter(id=run_id, state=CampaignRun.State.RUNNING).update(
            state=CampaignRun.State.COMPLETED, completed_at=now
        )
    for campaign_id in {c for _, c in finished}:
        _campaign_settle(campaign_id, now)
    return [r for r, _ in finished]


def _campaign_settle(campaign_id: int, now: datetime) -> None:
    active = CampaignRun.objects.filter(campaign_id=campaign_id).exclude(
        state__in=[CampaignRun.State.COMPLETED, CampaignRun.State.FAILED]
    )
    if active.exists():
        return
    campaign = Campaign.objects.filter(id=campaign_id, state=Campaign.State.RUNNING)
    campaign.filter(next_run_at__isnull=True).update(
        state=Campaign.State.COMPLETED, completed_at=now
    )
    campaign.filter(next_run_at__isnull=False).update(state=Campaign.State.SCHEDULED)


def run_fail(*, run_id: int, reason: str) -> None:
    """A run that cannot go on: it and its campaign become Failed, with the reason (K7).

    Messages already queued for it are skipped so nothing half-prepared is sent.
    """
    now = _now()
    with transaction.atomic():
        CampaignRun.objects.filter(id=run_id).update(
            state=CampaignRun.State.FAILED, error=reason[:2000], completed_at=now
        )
        Message.objects.filter(run_id=run_id, status=S.QUEUED).update(
            status=S.SKIPPED, skip_reason=Message.SkipReason.CAMPAIGN_STOPPED, updated_at=now
        )
        Campaign.objects.filter(runs__id=run_id).update(
            state=Campaign.State.FAILED, failure_reason=reason[:2000], completed_at=now
        )


@contextmanager
def tick_lock():
    """One tick at a time across all workers (PostgreSQL advisory lock); yields False if busy."""
    if not _is_pg():
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [TICK_LOCK_KEY])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [TICK_LOCK_KEY])


def in_flight(*, now: datetime | None = None) -> int:
    return Message.objects.filter(lease_expires_at__gt=now or _now()).count()


def tick(*, dispatch=None, fanout_budget: float = 10.0, send_inline: bool = False) -> dict:
    """One pass of the engine. `dispatch(ids)` hands a claimed batch to a send task; with
    send_inline the batches are sent here until nothing is due (manage.py tick, tests)."""
    report: dict = {}
    with tick_lock() as got:
        if not got:
            return {"skipped": "another tick is running"}
        report["swept"] = outbox_sweep()
        report["started"] = runs_start_due()
        fanning = CampaignRun.objects.filter(
            state__in=[CampaignRun.State.PENDING, CampaignRun.State.FANNING_OUT], paused=False
        ).values_list("id", flat=True)
        for run_id in list(fanning):
            try:
                run_fan_out(run_id=run_id, time_budget=None if send_inline else fanout_budget)
            except Exception as exc:  # a bug or bad data must not stop every other campaign
                logger.exception("fan-out of run %s failed", run_id)
                run_fail(run_id=run_id, reason=f"Preparing the messages failed: {exc}")
        report["reconciled"] = outbox_reconcile()
        batch = settings.HERALD_SEND_BATCH
        sent: dict[str, int] = {}
        if send_inline:
            while ids := outbox_claim(limit=batch):
                for key, value in outbox_send(message_ids=ids).items():
                    sent[key] = sent.get(key, 0) + value
        elif dispatch is not None:
            slots = settings.HERALD_SEND_TASKS - math.ceil(in_flight() / batch)
            for _ in range(max(slots, 0)):
                ids = outbox_claim(limit=batch)
                if not ids:
                    break
                dispatch(ids)
        report["sent"] = sent
        report["completed"] = runs_complete_finished()
    return report
