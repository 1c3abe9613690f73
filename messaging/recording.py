"""Writing a send batch's outcomes (messaging/sending.py): one statement per flush, and only
onto rows still `sending`, so a status callback that got there first keeps its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from . import hooks
from .models import Message
from .statuses import TIMESTAMP

S = Message.Status


@dataclass
class Outcome:
    """What became of one message of the batch (`status` may be one the loop acts on
    instead of writing it: sending.py's lease_lost, sender_busy, account_error)."""

    id: int
    status: str
    provider_message_id: str = ""
    error: str = ""
    error_code: str = ""
    send_after: datetime | None = None
    attempts: int = 0


def outcomes_record(outcomes: list[Outcome]) -> None:
    """Write outcomes; only rows still `sending` change status (a webhook may be faster)."""
    if not outcomes:
        return
    now = timezone.now()
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


def _outcome_fields(o: Outcome, now: datetime) -> dict:
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
