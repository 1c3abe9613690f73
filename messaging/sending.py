"""Sending claimed messages (M2, M3): exactly once each, paced per sender, outcomes recorded.

A batch is committed as `sending` before any provider call; only the task that moved a row
there sends it. Outcomes are written in one statement per flush, and only onto rows still
`sending`: a status callback that got there first keeps its status (messaging/recording.py).
Several provider calls are in flight at once (messaging/provider_calls.py), each fenced
right before it starts.

Each send waits for its sender's next slot (messaging/throttle.py: one pace per sender shared
by every process), but never past the batch's lease: a sender whose next slot is later, or
that the provider refused for now (429, unreachable), has its messages in the batch put back
in the queue until the sender is free, without using an attempt.
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Iterable
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
    SendError,
    SendResult,
    UnknownOutcome,
)
from .caps import SendCaps
from .guards import SendGuard, limit_reason
from .models import Message
from .provider_calls import Answer, ProviderCalls
from .recording import Outcome, outcomes_record
from .throttle import jittered, sender_back_off, sender_reserve

logger = logging.getLogger("herald.outbox")

S = Message.Status
PAUSE_CHECK_SECONDS = 0.5  # how often a sending batch looks for a pause
# Outcomes that are not written as a status: the row's sender is not free before the lease
# would run out, or the provider refused the account (both: put back in the queue).
_BUSY, _HELD = "sender_busy", "account_error"
# A message the frequency cap holds back while another worker's message to the contact is in
# flight waits about this long in the queue (then the other has gone out, or not).
CAP_WAIT_SECONDS = 2.0


def _now() -> datetime:
    return timezone.now()


def _runs():
    """The runs messages may belong to (campaign runs): the pump only reads their `paused`
    flag, through Message.run, so messaging needs no import of the app that owns them."""
    return Message._meta.get_field("run").related_model.objects


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

    Up to HERALD_SEND_CONCURRENCY provider calls are in flight at once (on threads, for
    backends that allow it: messaging/provider_calls.py); everything else, fences included,
    runs on this thread, and a call starts only when a thread is free to make it at once.
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
    batch = _Batch(messages, token, now)
    with ProviderCalls(settings.HERALD_SEND_CONCURRENCY) as calls:
        batch.send(calls)
    batch.fire_hooks()
    return batch.counts


class _Batch:
    """One claimed batch being sent. `settled` holds the ids that are no longer waiting
    under the batch's token: handed to the provider (fenced: a lease of their own), given an
    outcome, or put back in the queue."""

    def __init__(self, messages: list[Message], token: datetime, now: datetime):
        self.messages, self.token, self.now = messages, token, now
        self.counts: dict[str, int] = {}
        self.pending: list[Outcome] = []
        self.settled: set[int] = set()
        self.next = 0  # the first message not yet looked at
        self.ready: list[Message] = []  # checked and paced, waiting for their fence together
        self.lost = False
        self.run_ids = {m.run_id for m in messages if m.run_id}
        self.caps = SendCaps(messages, now)
        self.guard = SendGuard(messages, now)
        self.held: dict[int, set[int]] = {}  # workspace id → its runs that met the daily limit
        self.account_held: dict[str, set[int]] = {}  # an account error → the runs that met it
        self.last_flush = self.last_pause_check = time_module.monotonic()

    def unsent(self) -> list[Message]:
        """Messages still waiting under the batch's token: those ready for their fence, then
        those not yet looked at."""
        rest = [m for m in self.messages[self.next :] if m.id not in self.settled]
        return [*self.ready, *rest]

    def send(self, calls: ProviderCalls) -> None:
        last = len(self.messages) - 1
        for index, message in enumerate(self.messages):
            self.next = index
            if not self.ready:  # answers and pauses are looked at between groups
                self._answers(calls.finished(wait=not calls.free()))
                if (
                    self.run_ids
                    and time_module.monotonic() - self.last_pause_check > PAUSE_CHECK_SECONDS
                ):
                    self.last_pause_check = time_module.monotonic()
                    self.settled |= _release_if_paused(self.unsent(), self.run_ids, self.token)
            self.next = index + 1
            if message.id not in self.settled:
                self._prepare(message)
            # A limited sender's call starts at its slot, and a call made here right after its
            # own fence: each closes its group.
            alone = _limited(message) or not calls.on_threads(message)
            if self.ready and (len(self.ready) >= calls.room() or alone or index == last):
                self._launch(calls)
            if self.lost:
                _lease_lost(self.unsent())
                break
        self.next, self.ready = len(self.messages), []  # nothing is left to extend the lease of
        self._answers(calls.all_finished())
        self._flush()

    def _prepare(self, message: Message) -> None:
        """Check and pace the message: ready for its fence and call, or settled."""
        if not self.caps.allows(message):  # no provider call: nothing to fence
            return self._add(Outcome(message.id, S.SKIPPED, error=Message.SkipReason.CAPPED))
        if self.guard.refusal(message):
            return self._add(Outcome(message.id, S.SKIPPED, error=Message.SkipReason.BLOCKED))
        if (reason := _skip_reason(message)) is not None:
            return self._add(Outcome(message.id, S.SKIPPED, error=reason))
        if not self.guard.reserve(message):  # the workspace's daily send limit
            return self._over_limit(message)
        if (busy := _pace(message, self.token)) is not None:
            self.guard.release(message)  # not sent: the day's count gets it back
            return self._sender_busy(busy)
        self.caps.start(message)  # counted from now: a second message to the contact waits
        self.ready.append(message)
        return None

    def _launch(self, calls: ProviderCalls) -> None:
        """Fence the ready messages in one statement, then start their calls at once. The
        frequency cap is checked again first, in the fence's transaction (messaging/caps.py):
        a message it stops is capped, or put back in the queue for a moment while another
        worker's message to the contact is in flight."""
        ready, self.ready = self.ready, []
        capped, waiting = set(), set()
        if not self.caps.checks(ready):
            ours = _fence([m.id for m in ready], self.token)
        else:
            with transaction.atomic():
                capped, waiting = self.caps.recheck(ready, _now())
                if waiting:
                    _release(list(waiting), self.token, delay=CAP_WAIT_SECONDS)
                ours = _fence([m.id for m in ready if m.id not in capped | waiting], self.token)
        for message in ready:
            if message.id in capped or message.id in waiting:
                self.guard.release(message)  # not sent: the day's count gets it back
                if message.id in capped:
                    self._add(Outcome(message.id, S.SKIPPED, error=Message.SkipReason.CAPPED))
                else:
                    self.settled.add(message.id)
            elif message.id in ours:
                self.settled.add(message.id)
                # A limited sender's call is made here, at its slot: on a thread it could
                # start late under load and bunch with the next (the rate is per second).
                calls.start(message, here=_limited(message))
            else:  # taken from the batch (the worker stalled past its lease): stop
                self.caps.finish(message, S.QUEUED)
                self.guard.release(message)
                self.lost = True

    def _over_limit(self, message: Message) -> None:
        workspace = self.guard.workspaces[message.workspace_id]
        if message.run_id is None:
            self._add(Outcome(message.id, S.FAILED, error=limit_reason(workspace, self.now)))
            return
        _release([message.id], self.token)  # back to the queue; its campaign is paused
        self.settled.add(message.id)
        self.held.setdefault(workspace.id, set()).add(message.run_id)

    def _answers(self, answered: list[tuple[Message, Answer]]) -> None:
        """Record what the provider answered (on this thread: the outcome may write)."""
        for message, answer in answered:
            outcome = _outcome(message, answer)
            self.caps.finish(message, outcome.status)
            if outcome.status not in (S.SENT, S.DELIVERED, S.UNKNOWN):  # it did not go
                self.guard.release(message)
            if outcome.status == _BUSY:
                self._sender_busy(outcome)
            elif outcome.status == _HELD:  # the account's error: the run pauses, none fails
                self._account_error(message, outcome)
            else:
                self._add(outcome)

    def _sender_busy(self, busy: Outcome) -> None:
        self.settled |= _release_sender(self.unsent(), busy, self.token, self.messages)
        for message in [m for m in self.ready if m.id in self.settled]:  # put back with it
            self.caps.finish(message, S.QUEUED)
            self.guard.release(message)
        self.ready = [m for m in self.ready if m.id not in self.settled]

    def _account_error(self, message: Message, outcome: Outcome) -> None:
        same_run = [message.id, *(m.id for m in self.unsent() if m.run_id == message.run_id)]
        _release(same_run, self.token, also=message.id)
        self.settled |= set(same_run)
        self.account_held.setdefault(outcome.error, set()).add(message.run_id)

    def _add(self, outcome: Outcome) -> None:
        self.settled.add(outcome.id)
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.pending.append(outcome)
        if len(self.pending) >= 100 or time_module.monotonic() - self.last_flush > 1.0:
            self._flush()

    def _flush(self) -> None:
        outcomes_record(self.pending)
        self.pending, self.last_flush = [], time_module.monotonic()
        if rest := [m.id for m in self.unsent()]:
            self.token, kept = _extend_lease(rest, self.token)
            self.settled |= set(rest) - kept  # taken by the sweeper: not ours to send any more

    def fire_hooks(self) -> None:
        for workspace_id, held_runs in self.held.items():
            reason = limit_reason(self.guard.workspaces[workspace_id], self.now)
            hooks.fire("limit_reached", run_ids=sorted(held_runs), reason=reason)
        for error, held_runs in self.account_held.items():
            reason = f"The provider refused the sending account: {error}. Fix it, then resume."
            hooks.fire("limit_reached", run_ids=sorted(held_runs), reason=reason)


def _fence(ids: list[int], token: datetime) -> set[int]:
    """Right before their provider calls: which of these rows are still ours (`sending`
    under this batch's token, lease not run out)? Their leases are renewed for the calls.
    One statement for a group of calls about to start together."""
    now = _now()
    lease = now + timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_FENCE_SQL, [lease, ids, S.SENDING, token, now])
            return {row[0] for row in cursor.fetchall()}
    ours = Message.objects.filter(
        id__in=ids, status=S.SENDING, lease_expires_at=token, lease_expires_at__gt=now
    )
    if ours.update(lease_expires_at=lease) == len(ids):
        return set(ids)
    renewed = Message.objects.filter(id__in=ids, status=S.SENDING, lease_expires_at=lease)
    return set(renewed.values_list("id", flat=True))


# One statement, in autocommit its own transaction (BEGIN, SET LOCAL, the UPDATE and COMMIT
# were four round trips: most of the CPU of a send whose call is made on the loop's thread).
# The renewal is visible to every other worker at once, as the fence needs, without waiting
# for the WAL flush (a flush per message cut sending ~4x): set_config(…, true) turns
# synchronous_commit off for this statement's transaction only, and PostgreSQL reads it at
# the commit. A renewal lost in a crash leaves the row under its batch's lease, which the
# sweeper and reconciliation already handle as for any worker that died mid-call.
_FENCE_SQL = (
    "UPDATE messaging_message AS m SET lease_expires_at = %s "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
    "WHERE m.id = ANY(%s) AND m.status = %s AND m.lease_expires_at = %s "
    "AND m.lease_expires_at > %s RETURNING m.id"
)


def _lease_lost(unsent: list[Message]) -> None:
    logger.warning(
        "send batch lost its lease (the worker stalled past it): %s messages left unsent "
        "for the sweeper and reconciliation",
        len(unsent),
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
    unsent: list[Message], busy: Outcome, token: datetime, messages: list[Message]
) -> set[int]:
    """The sender of `busy` is not free before the lease runs out (its rate, or the provider
    backed it off): it and its sender's unsent messages in the batch go back to the queue
    until then, the attempt they were given returned. (The sender's calls still in flight
    come back with their own answers.)"""
    sender_id = next(m.sender_id for m in messages if m.id == busy.id)
    ids = [busy.id, *(m.id for m in unsent if m.sender_id == sender_id and m.id != busy.id)]
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


def _release(ids: list[int], token: datetime, *, also: int | None = None, delay: float = 0) -> None:
    """Unsent messages of the batch back to the queue, untouched (the attempt is not one);
    `also`: one more of them whose lease is its own (it was fenced for its provider call);
    `delay`: not to be sent again before about that many seconds."""
    ours = Q(lease_expires_at=token) | Q(id=also) if also is not None else Q(lease_expires_at=token)
    now = _now()
    later = {"send_after": jittered(now + timedelta(seconds=delay), now=now)} if delay else {}
    Message.objects.filter(ours, id__in=ids, status=S.SENDING).update(
        status=S.QUEUED, attempts=F("attempts") - 1, lease_expires_at=None, updated_at=now, **later
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


def _skip_reason(message: Message) -> str | None:
    """Why the message is skipped without a provider call (its contact opted out or went)."""
    contact = message.contact  # None also when the id points nowhere (see Message.contact)
    if contact is None and message.run_id is not None:
        return Message.SkipReason.DELETED
    if contact is not None and contact.status == Contact.Status.OPTED_OUT:
        return Message.SkipReason.OPTED_OUT
    return None


def _outcome(message: Message, answer: Answer) -> Outcome:
    """What the provider's answer to the call means for the message (and its contact)."""
    if isinstance(answer, SendResult):
        status = S.DELIVERED if answer.status == S.DELIVERED else S.SENT
        return Outcome(message.id, status, provider_message_id=answer.provider_message_id)
    if isinstance(answer, SendError) and answer.contact_code is not None:
        from .provider_errors import contact_apply_error

        contact_apply_error(contact_id=message.contact_id, code=answer.contact_code)
    if isinstance(answer, RateLimited):
        return _backed_off(message, answer)
    if isinstance(answer, RetryableError):
        return _retry_or_fail(message, answer)
    if isinstance(answer, PermanentError):
        if answer.account and message.run_id is not None:
            return Outcome(message.id, _HELD, error=str(answer), error_code=answer.code)
        if answer.opt_out and message.contact is not None:
            _opt_out(message.contact, str(answer))
        return Outcome(message.id, S.FAILED, error=str(answer), error_code=answer.code)
    if isinstance(answer, UnknownOutcome):
        return Outcome(message.id, S.UNKNOWN, error=str(answer), error_code=answer.code)
    # A bug or an unexpected library error: the outcome is unknown.
    logger.error("backend %s crashed on message %s", message.channel, message.id, exc_info=answer)
    return Outcome(message.id, S.UNKNOWN, error=f"{type(answer).__name__}: {answer}")


def _pace(message: Message, token: datetime) -> Outcome | None:
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
        return Outcome(message.id, _BUSY, send_after=at)
    wait = (at - now).total_seconds()
    if wait > 0:
        time_module.sleep(wait)
    return None


def _backed_off(message: Message, exc: RateLimited) -> Outcome:
    """The provider refused the sender for now: back it off for every process; the message
    (and the sender's others in the batch) wait without using an attempt."""
    now = _now()
    if message.sender_id:
        until = sender_back_off(message.sender_id, now=now, seconds=exc.retry_after)
    else:
        until = now + timedelta(seconds=exc.retry_after or 2.0)
    logger.warning("sender %s backed off until %s: %s", message.sender_id, until, exc)
    return Outcome(message.id, _BUSY, error=str(exc), error_code=exc.code, send_after=until)


def _retry_or_fail(message: Message, exc: RetryableError) -> Outcome:
    again = retry_after(message)
    status = S.QUEUED if again is not None else S.FAILED
    return Outcome(message.id, status, error=str(exc), error_code=exc.code, send_after=again)


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


def _limited(message: Message) -> bool:
    return message.sender is not None and message.sender.rate_limit_per_second > 0
