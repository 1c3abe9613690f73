"""Sending claimed messages (M2, M3): exactly once each, paced per sender, outcomes recorded.

A batch is committed as `sending` before any provider call; only the task that moved a row
there sends it. Outcomes are written in one statement per flush, and only onto rows still
`sending`: a status callback that got there first keeps its status.

Each send waits for its sender's next slot (messaging/throttle.py: one pace per sender shared
by every process), but never past the batch's lease: a sender whose next slot is later, or
that the provider refused for now (429, unreachable), has its messages in the batch put back
in the queue until the sender is free, without using an attempt.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from contacts.models import Contact

from . import hooks
from .backends import (
    PermanentError,
    RateLimited,
    RetryableError,
    SendResult,
    UnknownOutcome,
    get_backend,
)
from .caps import SendCaps
from .guards import SendGuard, limit_reason
from .models import Message
from .statuses import TIMESTAMP
from .throttle import jittered, sender_back_off, sender_reserve

logger = logging.getLogger("herald.outbox")

S = Message.Status
PAUSE_CHECK_SECONDS = 0.5  # how often a sending batch looks for a pause
# Outcomes that are not written as a status: the batch lost the row's lease (stop), or the
# row's sender is not free before the lease would run out (put back in the queue).
_LOST, _BUSY, _HELD = "lease_lost", "sender_busy", "account_error"


def _now() -> datetime:
    return timezone.now()


def _runs():
    """The runs messages may belong to (campaign runs): the pump only reads their `paused`
    flag, through Message.run, so messaging needs no import of the app that owns them."""
    return Message._meta.get_field("run").related_model.objects


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

    Step 1 commits the batch as `sending` (only rows still queued, of unpaused runs) under a
    lease whose expiry time is the batch's fencing token. A paused run's claimed rows are
    released at once. Opted-out or deleted contacts are skipped, and so are campaign messages
    past the workspace's frequency cap (messaging/caps.py) and SMS and calls to a country the
    workspace does not send to or to a premium-rate number; a workspace past its daily send
    limit sends nothing more that day (messaging/guards.py).

    Each provider call is fenced: right before it, one conditional UPDATE checks that the row
    is still `sending` under this batch's token and that the lease has not run out, and
    extends the row's lease for the call. A worker that stalled (SIGSTOP, a VM pause, a swap
    storm) past its lease finds its rows taken by the sweeper and stops, instead of sending
    what reconciliation already handed to another worker.
    """
    ids = list(message_ids)
    if not ids:
        return {}
    now = _now()
    token = now + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    with transaction.atomic():
        paused = Message.objects.filter(id__in=ids, status=S.QUEUED, run__paused=True)
        paused.update(lease_expires_at=None, updated_at=now)
        claimed = _mark_sending(ids, token, now)
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
    caps = SendCaps(messages, now)
    guard = SendGuard(messages, now)
    held: dict[int, set[int]] = {}  # workspace id → its runs whose messages met the daily limit
    account_held: dict[str, set[int]] = {}  # an account error → the runs that met it
    for index, message in enumerate(messages):
        if run_ids and time_module.monotonic() - last_pause_check > PAUSE_CHECK_SECONDS:
            last_pause_check = time_module.monotonic()
            released |= _release_if_paused(messages[index:], run_ids, token)
        if message.id in released:
            continue
        if not caps.allows(message):  # no provider call: nothing to fence
            outcome = _Outcome(message.id, S.SKIPPED, error=Message.SkipReason.CAPPED)
        elif guard.refusal(message):
            outcome = _Outcome(message.id, S.SKIPPED, error=Message.SkipReason.BLOCKED)
        elif not guard.reserve(message):  # the workspace's daily send limit
            workspace = guard.workspaces[message.workspace_id]
            if message.run_id is None:
                outcome = _Outcome(message.id, S.FAILED, error=limit_reason(workspace, now))
            else:  # back to the queue; its campaign is paused below
                _release([message.id], token)
                released.add(message.id)
                held.setdefault(workspace.id, set()).add(message.run_id)
                continue
        else:
            outcome = _send_one(message, token)
            if outcome.status == _LOST:
                _lease_lost(messages[index:], released)
                break
            if outcome.status == _BUSY:
                released |= _release_sender(messages[index:], outcome, token, released)
                continue
            if outcome.status == _HELD:  # the account's error: the run pauses, nothing fails
                same_run = [m.id for m in messages[index:] if m.run_id == message.run_id]
                _release([i for i in same_run if i not in released], token, also=message.id)
                released |= set(same_run)
                account_held.setdefault(outcome.error, set()).add(message.run_id)
                continue
            caps.record(message, outcome.status)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        pending.append(outcome)
        if len(pending) >= 100 or time_module.monotonic() - last_flush > 1.0:
            _record(pending)
            pending, last_flush = [], time_module.monotonic()
            rest = [m.id for m in messages[index + 1 :] if m.id not in released]
            token, kept = _extend_lease(rest, token)
            released |= set(rest) - kept  # taken by the sweeper: not ours to send any more
    _record(pending)
    for workspace_id, held_runs in held.items():
        reason = limit_reason(guard.workspaces[workspace_id], now)
        hooks.fire("limit_reached", run_ids=sorted(held_runs), reason=reason)
    for error, held_runs in account_held.items():
        reason = f"The provider refused the sending account: {error}. Fix it, then resume."
        hooks.fire("limit_reached", run_ids=sorted(held_runs), reason=reason)
    return counts


def _fence(message_id: int, token: datetime) -> bool:
    """Right before the provider call: is the row still ours (`sending` under this batch's
    token, lease not run out)? If so its lease is renewed for the call."""
    now = _now()
    lease = now + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    ours = Message.objects.filter(
        id=message_id, status=S.SENDING, lease_expires_at=token, lease_expires_at__gt=now
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Visible to every other worker at once, as the fence needs, without waiting for
            # the WAL flush (a flush per message cut sending ~4x): a renewal lost in a crash
            # leaves the row under its batch's lease, which the sweeper and reconciliation
            # already handle as for any worker that died mid-call.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        return ours.update(lease_expires_at=lease) == 1


def _lease_lost(unsent: list[Message], released: set[int]) -> None:
    left = [m.id for m in unsent if m.id not in released]
    logger.warning(
        "send batch lost its lease (the worker stalled past it): %s messages left unsent "
        "for the sweeper and reconciliation",
        len(left),
    )


def _extend_lease(ids: list[int], token: datetime) -> tuple[datetime, set[int]]:
    """A slow provider: keep the rest of a live batch from being taken for crashed.

    Only rows still under the batch's token and unexpired are extended; returns the new
    token and the ids that are still the batch's (the others were swept meanwhile).
    """
    if not ids:
        return token, set()
    now = _now()
    lease = now + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    ours = Message.objects.filter(
        id__in=ids, status=S.SENDING, lease_expires_at=token, lease_expires_at__gt=now
    )
    if ours.update(lease_expires_at=lease) == len(ids):
        return lease, set(ids)
    kept = set(
        Message.objects.filter(id__in=ids, status=S.SENDING, lease_expires_at=lease).values_list(
            "id", flat=True
        )
    )
    logger.warning(
        "send batch lost %s of %s unsent messages to the sweeper", len(ids) - len(kept), len(ids)
    )
    return lease, kept


def _release_sender(
    unsent: list[Message], busy: _Outcome, token: datetime, released: set[int]
) -> set[int]:
    """The sender of `busy` is not free before the lease runs out (its rate, or the provider
    backed it off): its unsent messages in the batch go back to the queue until then, the
    attempt they were given returned."""
    sender_id = next(m.sender_id for m in unsent if m.id == busy.id)
    ids = [m.id for m in unsent if m.sender_id == sender_id and m.id not in released]
    now = _now()
    ours = Q(lease_expires_at=token) | Q(id=busy.id)  # busy.id was fenced: its own lease
    Message.objects.filter(ours, id__in=ids, status=S.SENDING).update(
        status=S.QUEUED,
        attempts=F("attempts") - 1,
        lease_expires_at=None,
        send_after=jittered(busy.send_after or now, now=now),
        last_error=busy.error[:1000],
        error_code=busy.error_code[:32],
        updated_at=now,
    )
    return set(ids)


def _release_if_paused(unsent: list[Message], run_ids: set[int], token: datetime) -> set[int]:
    """A run paused mid-batch: put its unsent messages back in the queue, untouched."""
    paused = set(_runs().filter(id__in=run_ids, paused=True).values_list("id", flat=True))
    if not paused:
        return set()
    ids = [m.id for m in unsent if m.run_id in paused]
    _release(ids, token)
    return set(ids)


def _release(ids: list[int], token: datetime, *, also: int | None = None) -> None:
    """Unsent messages of the batch back to the queue, untouched (the attempt is not one);
    `also`: one more of them whose lease is its own (it was fenced for its provider call)."""
    ours = Q(lease_expires_at=token) | Q(id=also) if also is not None else Q(lease_expires_at=token)
    Message.objects.filter(ours, id__in=ids, status=S.SENDING).update(
        status=S.QUEUED, attempts=F("attempts") - 1, lease_expires_at=None, updated_at=_now()
    )


def _mark_sending(ids: list[int], lease: datetime, now: datetime) -> list[int]:
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        "UPDATE messaging_message SET status = %s, attempts = attempts + 1, "
        "lease_expires_at = %s, updated_at = %s "
        f"WHERE id IN ({placeholders}) AND status = %s AND NOT EXISTS (SELECT 1 FROM "
        f"{_runs().model._meta.db_table} r WHERE r.id = messaging_message.run_id AND r.paused = %s)"
        " RETURNING id"
    )
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM stores it: the lease is
    with connection.cursor() as cursor:  # matched for equality (the batch's fencing token)
        cursor.execute(sql, [S.SENDING, adapt(lease), adapt(now), *ids, S.QUEUED, True])
        return [row[0] for row in cursor.fetchall()]


def _send_one(message: Message, token: datetime) -> _Outcome:
    """Skip, or wait for the sender's slot, fence, and make the provider call."""
    contact = message.contact  # None also when the id points nowhere (see Message.contact)
    if contact is None and message.run_id is not None:
        return _Outcome(message.id, S.SKIPPED, error=Message.SkipReason.DELETED)
    if contact is not None and contact.status == Contact.Status.OPTED_OUT:
        return _Outcome(message.id, S.SKIPPED, error=Message.SkipReason.OPTED_OUT)
    if (busy := _pace(message, token)) is not None:
        return busy
    if not _fence(message.id, token):
        return _Outcome(message.id, _LOST)
    try:
        result: SendResult = get_backend(message.channel).send(message)
    except RateLimited as exc:
        return _backed_off(message, exc)
    except RetryableError as exc:
        return _retry_or_fail(message, exc)
    except PermanentError as exc:
        if exc.account and message.run_id is not None:
            return _Outcome(message.id, _HELD, error=str(exc), error_code=exc.code)
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


def _pace(message: Message, token: datetime) -> _Outcome | None:
    """Wait for the sender's next slot (shared by all processes); a _BUSY outcome when the
    slot would come too late for the batch's lease. Never sleeps past the lease: a third of
    it is kept for the provider call."""
    sender = message.sender
    if sender is None:
        return None
    now = _now()
    deadline = token - timedelta(seconds=settings.HERALD_LEASE_SECONDS / 3)
    free, at = sender_reserve(
        sender.id, sender.rate_limit_per_second, now=now, deadline=max(deadline, now)
    )
    if not free:
        return _Outcome(message.id, _BUSY, send_after=at)
    wait = (at - now).total_seconds()
    if wait > 0:
        time_module.sleep(wait)
    return None


def _backed_off(message: Message, exc: RateLimited) -> _Outcome:
    """The provider refused the sender for now: back it off for every process; the message
    (and the sender's others in the batch) wait without using an attempt."""
    now = _now()
    if message.sender_id:
        until = sender_back_off(message.sender_id, now=now, seconds=exc.retry_after)
    else:
        until = now + timedelta(seconds=exc.retry_after or 2.0)
    logger.warning("sender %s backed off until %s: %s", message.sender_id, until, exc)
    return _Outcome(message.id, _BUSY, error=str(exc), error_code=exc.code, send_after=until)


def _retry_or_fail(message: Message, exc: RetryableError) -> _Outcome:
    again = retry_after(message)
    status = S.QUEUED if again is not None else S.FAILED
    return _Outcome(message.id, status, error=str(exc), error_code=exc.code, send_after=again)


def retry_after(message: Message) -> datetime | None:
    """When a failed attempt is tried again: after the campaign's retry interval while its
    retries are left (a message outside a campaign has none), else None."""
    campaign = message.campaign  # read through the foreign key, not an import
    if campaign is None or message.attempts > campaign.max_retries:
        return None
    return _now() + timedelta(seconds=campaign.retry_interval)


def _opt_out(contact: Contact, detail: str) -> None:
    from contacts.services import contact_opt_out

    contact_opt_out(contact=contact, reason=Contact.OptOutReason.BAD_RESPONSE, detail=detail)


def _record(outcomes: list[_Outcome]) -> None:
    """Write outcomes; only rows still `sending` change status (a webhook may be faster)."""
    if not outcomes:
        return
    now = _now()
    rows = [_outcome_fields(o, now) for o in outcomes]
    with transaction.atomic():
        if connection.vendor == "postgresql":
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
    if o.status in TIMESTAMP:
        row[TIMESTAMP[o.status]] = now
    if o.status == S.SKIPPED:
        row["skip_reason"] = o.error
    elif o.status in (S.SENT, S.DELIVERED):
        row.update(sent_at=now, last_error="")  # a send the provider delivered at once was sent
    else:
        row.update(last_error=o.error[:1000], error_code=(o.error_code or "")[:32])
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
