"""The outbox (M2, M3): every message waits here, whatever sent it, until the pump sends it.

The database is the queue's truth; Celery only carries batches of ids. Each message row moves
queued → (claimed: queued with a lease) → sending → sent/delivered/failed/unknown/skipped:

* claim: `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; plain locking elsewhere) picks due rows
  of unpaused runs and gives them a lease. A claim whose task never runs is claimable again
  when its lease expires (the sweeper clears it; Redis may lose the task, that is fine).
* send (messaging/sending.py): one conditional UPDATE moves the batch from queued to `sending`
  and is committed before any provider call, so a task that runs twice finds nothing to send.
* a row still in `sending` when its lease expires was caught by a crash: it becomes `unknown`
  and is reconciled with the provider (backend.reconcile), never re-sent blindly.

A message may belong to a campaign run (Message.run): the pump respects the run's `paused`
flag, the one thing it reads of the app above it (through the foreign key, not an import).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Workspace
from contacts.models import Contact

from . import hooks
from .backends import get_backend
from .delivery import call_retry_fields
from .models import Message, Sender
from .sending import outbox_send
from .statuses import RETRY, TIMESTAMP

logger = logging.getLogger("herald.outbox")

S = Message.Status
# A message whose outcome stays unknown this long, and that the provider cannot confirm,
# is failed with that reason (never re-sent).
UNKNOWN_GIVE_UP = timedelta(hours=24)


def _now() -> datetime:
    return timezone.now()


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
    is_test: bool = False,
) -> Message:
    """Queue one message outside any campaign (a reply, a test send); the pump sends it."""
    return Message.objects.create(
        is_test=is_test,
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
        campaigns__state="running",  # senders of running campaigns (through Campaign.sender)
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
        try:
            status = _reconcile_one(message, now)
        except Exception:  # one provider's or message's trouble must not stop the others
            logger.exception("reconciling message %s failed; asking again next tick", message.id)
            continue
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
    elif result.status == RETRY:  # a call nobody answered: as the status webhook does
        fields = call_retry_fields(message, result.provider_status)
    elif result.status in TIMESTAMP:
        fields = {"status": result.status, TIMESTAMP[result.status]: now}
        if result.error:
            fields.update(last_error=result.error[:1000], error_code=result.error_code[:32])
    elif now - message.updated_at > UNKNOWN_GIVE_UP:
        fields = {
            "status": S.FAILED,
            TIMESTAMP[S.FAILED]: now,
            "last_error": "Outcome unknown: the provider could not confirm the send.",
        }
    else:
        return None
    if result.provider_message_id and fields["status"] != S.QUEUED:
        fields["provider_message_id"] = result.provider_message_id
    fields.setdefault("updated_at", now)
    return fields["status"] if unknown.update(**fields) else None


def in_flight(*, now: datetime | None = None) -> int:
    return Message.objects.filter(lease_expires_at__gt=now or _now()).count()


def outbox_pump(*, dispatch=None, send_inline: bool = False) -> dict[str, int]:
    """Hand due messages to senders: `dispatch(ids)` gives each claimed batch to a send task,
    keeping HERALD_SEND_TASKS batches in flight; with send_inline they are sent here until
    nothing is due (manage.py tick, tests), and the counts by outcome are returned."""
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
    return sent
