"""Delivery status from the provider (M4): ranked, never backwards, duplicates are no-ops.

Twilio's callbacks carry no sequence number and arrive at least once, in any order. Each
status has a rank; an update is one conditional UPDATE that only matches rows of a lower
rank, so a late `sent` after `delivered` and a replayed callback change nothing.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

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


def _forward_by_sid(sid: str, status: str) -> int:
    """_forward for one sid as a plain statement: the webhook's hot path skips the ORM's
    query compilation, which costs more CPU than the database does for this UPDATE."""
    lower = _lower_ranks(status)
    stamps = (
        "sent_at = %s"
        if status == S.SENT
        else f"sent_at = COALESCE(sent_at, %s), {_TIMESTAMP[status]} = %s"
    )
    sql = (
        f"UPDATE {Message._meta.db_table} SET status = %s, updated_at = %s, {stamps} "
        f"WHERE provider_message_id = %s AND status IN ({', '.join(['%s'] * len(lower))})"
    )
    now = timezone.now()
    params = [status, now, now] + ([] if status == S.SENT else [now]) + [sid, *lower]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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
    if changed and status in (S.UNDELIVERED, S.FAILED) and error_code:
        _contact_after_failure(message, error_code)
    return StatusOutcome(found=True, changed=bool(changed))


def callback_apply(
    *, sid: str, message_id: str | None, provider_status: str, error_code: str = ""
) -> StatusOutcome:
    """Apply one status callback. The common case (a new status for a known sid) is a single
    UPDATE statement; the message row is read only when that matches nothing, or when the
    failure needs the contact."""
    status = TWILIO_STATUS.get(provider_status)
    if status is not None and not error_code and _forward_by_sid(sid, status):
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
    if message.attempts <= max_retries:
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
    return bool(
        base.update(
            status=S.FAILED,
            failed_at=now,
            last_error=f"Call {provider_status} on every attempt.",
            error_code=provider_status,
            updated_at=now,
        )
    )


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
