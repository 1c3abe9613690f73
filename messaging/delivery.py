"""Delivery status from the provider (M4): ranked, never backwards, duplicates are no-ops.

Twilio's callbacks carry no sequence number and arrive at least once, in any order. Each
status has a rank; an update is one conditional UPDATE that only matches rows of a lower
rank, so a late `sent` after `delivered` and a replayed callback change nothing.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import hooks
from .models import Message
from .provider_errors import CARRIER_FAILURE_CODES, contact_apply_error

logger = logging.getLogger("herald.webhooks")

S = Message.Status
RANK = {
    S.QUEUED: 0,
    S.SENDING: 1,
    S.UNKNOWN: 1,
    S.SENT: 2,
    S.DELIVERED: 3,
    S.UNDELIVERED: 3,
    S.FAILED: 3,
    S.READ: 4,
}

# Twilio MessageStatus / CallStatus → our status. None = retry the call (busy, no answer).
TWILIO_STATUS = {
    "accepted": S.SENT,
    "scheduled": S.SENT,
    "queued": S.SENT,
    "sending": S.SENT,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "partially_delivered": S.DELIVERED,
    "undelivered": S.UNDELIVERED,
    "failed": S.FAILED,
    "canceled": S.FAILED,
    "read": S.READ,
    # Calls
    "initiated": S.SENT,
    "ringing": S.SENT,
    "in-progress": S.SENT,
    "answered": S.SENT,
    "completed": S.DELIVERED,
    "busy": None,
    "no-answer": None,
}

_TIMESTAMP = {
    S.SENT: "sent_at",
    S.DELIVERED: "delivered_at",
    S.UNDELIVERED: "failed_at",
    S.FAILED: "failed_at",
    S.READ: "read_at",
}


@dataclass(frozen=True)
class StatusOutcome:
    found: bool
    changed: bool = False


def _lower_ranks(status: str) -> list[str]:
    return [s for s, rank in RANK.items() if rank < RANK[status]]


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
    updates[_TIMESTAMP[status]] = now
    if status != S.SENT:
        # A final status may be the first we hear of: keep sent_at filled.
        updates["sent_at"] = Coalesce("sent_at", Value(now))
    return rows.filter(status__in=_lower_ranks(status)).update(**updates)


@cache
def _forward_sql(count: int) -> str:
    """The UPDATE of statuses_forward for `count` sids, in plain SQL: the webhook's hot path,
    where the ORM's query compilation would cost more CPU than the database spends on it."""
    rank = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in RANK.items())
    stamped: dict[str, list[str]] = {}
    for status, column in _TIMESTAMP.items():
        if column != "sent_at":
            stamped.setdefault(column, []).append(f"'{status}'")
    stamps = "".join(
        f", {column} = CASE WHEN v.status IN ({', '.join(statuses)}) THEN t.now ELSE m.{column} END"
        for column, statuses in stamped.items()
    )
    return (
        f"UPDATE {Message._meta.db_table} AS m SET status = v.status, updated_at = t.now, "
        "sent_at = CASE WHEN v.status = 'sent' THEN t.now ELSE COALESCE(m.sent_at, t.now) END"
        f"{stamps} "
        f"FROM (VALUES {', '.join(['(%s, %s, %s)'] * count)}) AS v(sid, status, rank), "
        "(SELECT %s::timestamptz AS now) AS t "
        "WHERE m.provider_message_id = v.sid AND m.provider_message_id <> '' "
        f"AND (CASE m.status {rank} END) < v.rank "
        "RETURNING m.id, m.provider_message_id"
    )


def statuses_forward(statuses: dict[str, str]) -> set[str]:
    """Move the messages with these provider sids to their new status (sid → status) in one
    UPDATE that only matches rows of a lower rank, as _forward does; returns the sids moved.
    A final status may be the first we hear of, so sent_at is filled if it was empty."""
    params: list = []
    for sid, status in statuses.items():
        params += [sid, status, RANK[status]]
    params.append(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_forward_sql(len(statuses)), params)
        moved = cursor.fetchall()
    hooks.statuses_changed((message_id, statuses[sid]) for message_id, sid in moved)
    return {sid for _, sid in moved}


def message_status_apply(
    *, message: Message, provider_status: str, sid: str, error_code: str = ""
) -> StatusOutcome:
    """Move a message forward to the provider's status; returns whether anything changed."""
    if provider_status not in TWILIO_STATUS:
        logger.warning("Unknown provider status %r for message %s", provider_status, message.pk)
        return StatusOutcome(found=True)
    status = TWILIO_STATUS[provider_status]
    if status is None:
        return StatusOutcome(found=True, changed=_call_retry(message, provider_status, sid))
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


def forward_status(provider_status: str, error_code: str) -> str | None:
    """Our status for a callback that statuses_forward can settle alone (no error code to act
    on, not a call to retry), else None."""
    return None if error_code else TWILIO_STATUS.get(provider_status)


def callback_forward(*, sid: str, provider_status: str, error_code: str = "") -> bool:
    """The common case of a callback, in a single UPDATE: moving the message with this sid
    forward. False when it needs callback_apply."""
    status = forward_status(provider_status, error_code)
    return status is not None and bool(statuses_forward({sid: status}))


def callback_apply(
    *, sid: str, message_id: str | None, provider_status: str, error_code: str = ""
) -> StatusOutcome:
    """Apply one status callback. The common case is callback_forward; the message row is
    read only when that matches nothing, or when the failure needs the contact."""
    if callback_forward(sid=sid, provider_status=provider_status, error_code=error_code):
        return StatusOutcome(found=True, changed=True)
    message = message_for_callback(sid=sid, message_id=message_id)
    if message is None:
        return StatusOutcome(found=False)
    return message_status_apply(
        message=message, provider_status=provider_status, sid=sid, error_code=error_code
    )


def _call_retry(message: Message, provider_status: str, sid: str) -> bool:
    """Busy / no answer: call again after the retry interval, up to the campaign's retries."""
    campaign = message.campaign
    max_retries = campaign.max_retries if campaign else 0
    interval = campaign.retry_interval if campaign else 300
    now = timezone.now()
    active = [S.SENT, S.SENDING, S.UNKNOWN]
    base = Message.objects.filter(pk=message.pk, status__in=active, provider_message_id=sid)
    if message.attempts <= max_retries:  # not a status the hooks hear about: it goes again
        return bool(
            base.update(
                status=S.QUEUED,
                send_after=now + timedelta(seconds=interval),
                provider_message_id="",
                last_error=f"Call {provider_status}; calling again.",
                error_code=provider_status,
                updated_at=now,
            )
        )
    failed = base.update(
        status=S.FAILED,
        failed_at=now,
        last_error=f"Call {provider_status} on every attempt.",
        error_code=provider_status,
        updated_at=now,
    )
    if failed:
        hooks.statuses_changed([(message.pk, S.FAILED)])
    return bool(failed)


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
