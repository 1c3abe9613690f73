"""One pace per sender, shared by every worker process (M3; #12 defects 2 and 4).

Carriers enforce a number's throughput (about 1 SMS/s on a US long code) and answer excess
with 429s, so a sender's rate limit must hold across all processes, not in each one. Every
send reserves its sender's next slot in the database (SenderPace.next_at, moved on by 1/rate
with a compare-and-set UPDATE that works the same on PostgreSQL and SQLite), then waits for
it: the sends of a sender are spaced 1/rate apart whichever process makes them.

A provider that says "too many requests" (429, Retry-After) or cannot be reached backs the
sender off for everyone: `sender_back_off` pushes next_at past the wait, and the senders'
messages go back to the queue without using an attempt (messaging/sending.py).

A sender without a limit (rate 0) reserves nothing: a send only reads whether the sender is
backed off.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .models import SenderPace

# A backed-off sender's messages come due spread over this much more than the wait, so the
# queue does not hand them all to the senders in the same tick.
BACK_OFF_JITTER = 0.25
DEFAULT_BACK_OFF_SECONDS = 2.0
MAX_BACK_OFF_SECONDS = 300.0
_CAS_TRIES = 50


def sender_reserve(
    sender_id: int, rate: float, *, now: datetime, deadline: datetime
) -> tuple[bool, datetime]:
    """Reserve the sender's next send slot if it comes no later than `deadline`.

    Returns (True, when to send) with the slot reserved, or (False, when the sender is free
    again) with nothing reserved (the caller puts the message back until then).
    """
    rows = SenderPace.objects.filter(sender_id=sender_id)
    if rate <= 0:  # no limit: only a back-off holds the sender
        free_at = rows.values_list("next_at", flat=True).first()
        if free_at is None or free_at <= now:
            return True, now
        return free_at <= deadline, free_at
    interval = timedelta(seconds=1.0 / rate)
    free_at = now
    for _ in range(_CAS_TRIES):
        if rows.filter(next_at__lte=now).update(next_at=now + interval):
            return True, now  # the sender was idle: send now
        free_at = rows.values_list("next_at", flat=True).first()
        if free_at is None:  # its first send ever
            SenderPace.objects.bulk_create(
                [SenderPace(sender_id=sender_id, next_at=now)], ignore_conflicts=True
            )
            continue
        if free_at <= now:
            continue  # it just fell idle: take the first branch
        if free_at > deadline:
            return False, free_at
        if rows.filter(next_at=free_at).update(next_at=free_at + interval):
            return True, free_at
        # Another process took that slot between the read and the update: read again.
    return False, free_at  # contention this heavy: let the message wait for the next claim


def sender_back_off(sender_id: int, *, now: datetime, seconds: float | None) -> datetime:
    """The provider refused the sender for now: no process sends for it before the returned
    time (`seconds`, the provider's Retry-After, or a short default)."""
    wait = DEFAULT_BACK_OFF_SECONDS if seconds is None else seconds
    until = now + timedelta(seconds=min(max(wait, 0.0), MAX_BACK_OFF_SECONDS))
    rows = SenderPace.objects.filter(sender_id=sender_id)
    if not rows.filter(next_at__lt=until).update(next_at=until):
        SenderPace.objects.bulk_create(
            [SenderPace(sender_id=sender_id, next_at=until)], ignore_conflicts=True
        )
    return until


def jittered(moment: datetime, *, now: datetime) -> datetime:
    """`moment` plus up to BACK_OFF_JITTER of the wait until it (at least up to a second)."""
    spread = max((moment - now).total_seconds() * BACK_OFF_JITTER, 1.0)
    return moment + timedelta(seconds=random.uniform(0, spread))  # noqa: S311 (not security)
