"""Delivery status from the provider (M4): ranked, never backwards, duplicates are no-ops.

Twilio's callbacks carry no sequence number and arrive at least once, in any order. Each
status has a rank (statuses.py); an update is one conditional UPDATE that only matches rows
of a lower rank, so a late `sent` after `delivered` and a replayed callback change nothing.
"""

import logging
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import hooks
from .models import Message
from .provider_errors import CARRIER_FAILURE_CODES, contact_apply_error
from .sending import retry_after
from .statuses import RANK, RETRY, TIMESTAMP, lower_ranks

logger = logging.getLogger("herald.webhooks")

S = Message.Status


class StatusCallback(NamedTuple):
    """One status callback, read: the provider's status as sent and what it means here."""

    sid: str
    provider_status: str
    status: str | None  # statuses.from_twilio: ours, RETRY, or None for a status we don't know
    error_code: str = ""


@dataclass(frozen=True)
class StatusOutcome:
    found: bool
    changed: bool = False


def message_for_callback(*, sid: str, message_id: str | None) -> Message | None:
    """The message a callback is about: by provider sid, else by our id from the signed URL.

    The id covers a callback that overtakes the commit of the sid after the provider call.
    """
    message = Message.objects.filter(provider_message_id=sid).first()
    if message is None and message_id and message_id.isdigit():
        message = Message.objects.filter(
            pk=int(message_id), provider_message_id__in=["", sid]
        ).first()
    return message


def _forward(rows, status: str, sid: str, error_code: str) -> int:
    """One conditional UPDATE: rows of a lower rank move to `status`; returns how many."""
    now = timezone.now()
    updates = {"status": status, "updated_at": now, "provider_message_id": sid}
    if error_code:
        updates["error_code"] = error_code[:32]
    updates[TIMESTAMP[status]] = now
    if status != S.SENT:
        # A final status may be the first we hear of: keep sent_at filled.
        updates["sent_at"] = Coalesce("sent_at", Value(now))
    return rows.filter(status__in=lower_ranks(status)).update(**updates)


@cache
def _forward_sql(count: int) -> str:
    """The UPDATE of statuses_forward for `count` sids, in plain SQL: the webhook's hot path,
    where the ORM's query compilation would cost more CPU than the database spends on it.

    Portable: PostgreSQL and SQLite (3.35+) both take a WITH … UPDATE … FROM … RETURNING, and
    the time is a parameter in each SET (a VALUES list aliased as v(...) or a ::timestamptz
    cast is PostgreSQL's alone). Parameters: the (sid, status, rank) rows, then the time
    three times."""
    rank = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in RANK.items())
    stamped: dict[str, list[str]] = {}
    for status, column in TIMESTAMP.items():
        if column != "sent_at":
            stamped.setdefault(column, []).append(f"'{status}'")
    stamps = "".join(
        f", {column} = CASE WHEN v.status IN ({', '.join(statuses)}) THEN %s ELSE m.{column} END"
        for column, statuses in stamped.items()
    )
    return (
        f"WITH v (sid, status, rank) AS (VALUES {', '.join(['(%s, %s, %s)'] * count)}) "
        f"UPDATE {Message._meta.db_table} AS m SET status = v.status, updated_at = %s, "
        "sent_at = COALESCE(CASE WHEN v.status = 'sent' THEN %s END, m.sent_at, %s)"
        f"{stamps} FROM v "
        "WHERE m.provider_message_id = v.sid AND m.provider_message_id <> '' "
        f"AND (CASE m.status {rank} END) < v.rank "
        "RETURNING id, provider_message_id"  # unqualified: SQLite refuses m.id here
    )


def statuses_forward(statuses: dict[str, str]) -> set[str]:
    """Move the messages with these provider sids to their new status (sid → status) in one
    UPDATE that only matches rows of a lower rank, as _forward does; returns the sids moved.
    A final status may be the first we hear of, so sent_at is filled if it was empty."""
    params: list = []
    for sid, status in statuses.items():
        params += [sid, status, RANK[status]]
    sql = _forward_sql(len(statuses))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params += [now] * (sql.count("%s") - len(params))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        moved = cursor.fetchall()
    hooks.statuses_changed((message_id, statuses[sid]) for message_id, sid in moved)
    return {sid for _, sid in moved}


def message_status_apply(*, message: Message, callback: StatusCallback) -> StatusOutcome:
    """Move a message forward to the callback's status; returns whether anything changed."""
    status, sid, error_code = callback.status, callback.sid, callback.error_code
    if status is None:
        logger.warning(
            "Unknown provider status %r for message %s", callback.provider_status, message.pk
        )
        return StatusOutcome(found=True)
    if status == RETRY:
        return StatusOutcome(found=True, changed=_call_retry(message, callback))
    changed = _forward(Message.objects.filter(pk=message.pk), status, sid, error_code)
    if changed:
        hooks.statuses_changed([(message.pk, status)])
    if changed and status in (S.UNDELIVERED, S.FAILED) and error_code:
        _contact_after_failure(message, error_code)
    return StatusOutcome(found=True, changed=bool(changed))


def sids_known(sids: set[str]) -> set[str]:
    """Which of these provider sids a message carries."""
    return set(
        Message.objects.exclude(provider_message_id="")
        .filter(provider_message_id__in=sids)
        .values_list("provider_message_id", flat=True)
    )


def forward_status(callback: StatusCallback) -> str | None:
    """Our status for a callback that statuses_forward can settle alone (no error code to act
    on, not a call to retry, a status we know), else None."""
    if callback.error_code or callback.status == RETRY:
        return None
    return callback.status


def callback_apply(*, callback: StatusCallback, message_id: str | None) -> StatusOutcome:
    """Apply one status callback. The common case is one UPDATE (statuses_forward); the
    message row is read only when that matches nothing, or when the failure needs the contact."""
    status = forward_status(callback)
    if status is not None and statuses_forward({callback.sid: status}):
        return StatusOutcome(found=True, changed=True)
    message = message_for_callback(sid=callback.sid, message_id=message_id)
    if message is None:
        return StatusOutcome(found=False)
    return message_status_apply(message=message, callback=callback)


def call_retry_fields(message: Message, provider_status: str) -> dict:
    """A call nobody answered (busy, no answer): queued again after the retry interval while
    retries are left, else failed. The webhook and reconciliation both use it."""
    now = timezone.now()
    again = retry_after(message)
    if again is not None:
        return {
            "status": S.QUEUED,
            "send_after": again,
            "provider_message_id": "",
            "last_error": f"Call {provider_status}; calling again.",
            "error_code": provider_status,
            "updated_at": now,
        }
    return {
        "status": S.FAILED,
        TIMESTAMP[S.FAILED]: now,
        "last_error": f"Call {provider_status} on every attempt.",
        "error_code": provider_status,
        "updated_at": now,
    }


def _call_retry(message: Message, callback: StatusCallback) -> bool:
    active = [S.SENT, S.SENDING, S.UNKNOWN]
    rows = Message.objects.filter(
        pk=message.pk, status__in=active, provider_message_id=callback.sid
    )
    fields = call_retry_fields(message, callback.provider_status)
    changed = rows.update(**fields)
    if changed and fields["status"] == S.FAILED:  # a retry is no status the hooks hear of
        hooks.statuses_changed([(message.pk, S.FAILED)])
    return bool(changed)


def _contact_after_failure(message: Message, error_code: str) -> None:
    if error_code.isdigit():
        contact_apply_error(
            contact_id=message.contact_id,
            code=int(error_code),
            repeated_carrier_failure=lambda: _repeated_carrier_failures(message),
        )


def _repeated_carrier_failures(message: Message) -> bool:
    """Whether the last N finished messages to the contact on this channel failed at the carrier."""
    threshold = settings.HERALD_BAD_RESPONSE_THRESHOLD
    finished = [S.DELIVERED, S.READ, S.UNDELIVERED, S.FAILED]
    codes = list(
        Message.objects.filter(
            workspace_id=message.workspace_id,
            contact_id=message.contact_id,
            channel=message.channel,
            status__in=finished,
        )
        .order_by("-id")
        .values_list("error_code", flat=True)[:threshold]
    )
    carrier = {str(code) for code in CARRIER_FAILURE_CODES}
    return len(codes) == threshold and all(code in carrier for code in codes)
