"""Frequency cap (H3): at most N campaign messages per contact per period, across campaigns.

Only campaign messages count (agent and human replies have no campaign). A message counts
once it went out within the period (sent, delivered, read, undelivered, or unknown: it may
have gone); fan-out also counts those still queued or sending, which are about to go. The
fan-out skips a recipient who is capped already, and the send checks again, so messages of
two campaigns queued for the same contact do not both go past the cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Q, QuerySet

from accounts.models import Workspace

from .models import Message

S = Message.Status
WENT_OUT = (S.SENT, S.DELIVERED, S.READ, S.UNDELIVERED, S.UNKNOWN)
ABOUT_TO_GO = (S.QUEUED, S.SENDING)


@dataclass(frozen=True)
class Cap:
    messages: int
    period: timedelta

    @property
    def period_hours(self) -> int:
        return int(self.period.total_seconds() // 3600)

    def since(self, at: datetime) -> datetime:
        return at - self.period


def workspace_cap(workspace) -> Cap | None:
    """The workspace's cap, None when it has none."""
    if not workspace.frequency_cap:
        return None
    return Cap(workspace.frequency_cap, timedelta(hours=workspace.frequency_cap_hours))


def counted_messages(*, cap: Cap, at: datetime, include_queued: bool) -> QuerySet[Message]:
    """The campaign messages that count against the cap at `at`."""
    counted = Q(status__in=WENT_OUT, sent_at__gt=cap.since(at))
    if include_queued:
        counted |= Q(status__in=ABOUT_TO_GO)
    return Message.objects.filter(counted, campaign_id__isnull=False)


def campaign_message_counts(
    *,
    cap: Cap,
    contact_ids: Iterable[int],
    at: datetime,
    include_queued: bool,
    exclude_run_id: int | None = None,
) -> dict[int, int]:
    """How many counted campaign messages each of these contacts has (absent: none)."""
    ids = list(contact_ids)
    if not ids:
        return {}
    messages = counted_messages(cap=cap, at=at, include_queued=include_queued).filter(
        contact_id__in=ids
    )
    if exclude_run_id is not None:
        messages = messages.exclude(run_id=exclude_run_id)
    rows = messages.values("contact_id").annotate(n=Count("id")).order_by()
    return {row["contact_id"]: row["n"] for row in rows}


def capped_contacts(
    *,
    cap: Cap,
    contact_ids: Iterable[int],
    at: datetime,
    include_queued: bool,
    exclude_run_id: int | None = None,
) -> set[int]:
    """The contacts among these who have reached the cap."""
    counts = campaign_message_counts(
        cap=cap,
        contact_ids=contact_ids,
        at=at,
        include_queued=include_queued,
        exclude_run_id=exclude_run_id,
    )
    return {contact_id for contact_id, n in counts.items() if n >= cap.messages}


class SendCaps:
    """The cap at send time for one claimed batch.

    The counts of its contacts are read once (`base`: campaign messages that went out) and
    the batch's own messages counted as their provider calls start (`own`: calls run several
    at once), lowered again when one did not go out, so two messages of the batch cannot both
    pass a full cap. Other workers send too, so right before a group of calls is fenced,
    `recheck` reads the counts again under a lock per contact, counting the other batches'
    messages still `sending` (in flight, or about to be) as well: a message that only they
    would push past the cap waits for them in the queue, one that the messages that went out
    push past it is capped. Two workers can then not both let one past the cap."""

    def __init__(self, messages: list[Message], at: datetime):
        self.caps: dict[int, Cap] = {}
        self.base: dict[int, int] = {}
        self.own: dict[int, int] = {}
        self.batch_ids = [m.id for m in messages]
        by_workspace: dict[int, list[int]] = {}
        for message in messages:
            if message.campaign_id and message.contact_id:
                by_workspace.setdefault(message.workspace_id, []).append(message.contact_id)
        capped = Workspace.objects.filter(id__in=by_workspace, frequency_cap__isnull=False)
        for workspace in capped:
            cap = workspace_cap(workspace)
            if cap is None:
                continue
            self.caps[workspace.id] = cap
            self.base.update(
                campaign_message_counts(
                    cap=cap, contact_ids=by_workspace[workspace.id], at=at, include_queued=False
                )
            )

    def _cap(self, message: Message) -> Cap | None:
        if not (message.campaign_id and message.contact_id):
            return None
        return self.caps.get(message.workspace_id)

    def _count(self, contact_id: int) -> int:
        return self.base.get(contact_id, 0) + self.own.get(contact_id, 0)

    def allows(self, message: Message) -> bool:
        cap = self._cap(message)
        return cap is None or self._count(message.contact_id) < cap.messages

    def start(self, message: Message) -> None:
        """Its provider call is about to start: it counts from now."""
        if self._cap(message) is not None:
            self.own[message.contact_id] = self.own.get(message.contact_id, 0) + 1

    def finish(self, message: Message, status: str) -> None:
        """Its call answered, or it will not be made: one that did not go out no longer
        counts."""
        if self._cap(message) is not None and status not in WENT_OUT:
            self.own[message.contact_id] -= 1

    def checks(self, messages: list[Message]) -> bool:
        """Whether any of these messages is under a cap (else `recheck` has nothing to do)."""
        return any(self._cap(m) is not None for m in messages)

    def recheck(self, ready: list[Message], at: datetime) -> tuple[set[int], set[int]]:
        """(capped, waiting): the ids of `ready` (started, about to be fenced) that the counts
        read now stop. Run inside the fence's transaction: the contacts' locks are held until
        it commits, so another worker's recheck of the same contact sees this one's fence (its
        message `sending`) or its put-back (queued again)."""
        checked = [m for m in ready if self._cap(m) is not None]
        if not checked:
            return set(), set()
        contact_ids = sorted({m.contact_id for m in checked})
        _lock_contacts(contact_ids)
        went_out: dict[int, int] = {}
        in_flight: dict[int, int] = {}
        for workspace_id in {m.workspace_id for m in checked}:
            ids = [m.contact_id for m in checked if m.workspace_id == workspace_id]
            cap = self.caps[workspace_id]
            counted = counted_messages(cap=cap, at=at, include_queued=False)
            others = Message.objects.filter(
                status=S.SENDING, lease_expires_at__gt=at, campaign_id__isnull=False
            )
            for source, into in ((counted, went_out), (others, in_flight)):
                rows = (
                    source.filter(contact_id__in=ids)
                    .exclude(id__in=self.batch_ids)
                    .values("contact_id")
                    .annotate(n=Count("id"))
                    .order_by()
                )
                into.update({row["contact_id"]: row["n"] for row in rows})
        capped, waiting = set(), set()
        for message in reversed(checked):  # the last ones of a contact give way first
            contact_id, cap = message.contact_id, self.caps[message.workspace_id].messages
            self.base[contact_id] = went_out.get(contact_id, 0)
            own = self.own.get(contact_id, 0)
            if self.base[contact_id] + own > cap:
                capped.add(message.id)
            elif self.base[contact_id] + own + in_flight.get(contact_id, 0) > cap:
                waiting.add(message.id)
            else:
                continue
            self.own[contact_id] = own - 1
        return capped, waiting


LOCK_CLASS = 0x484643  # "HFC": the advisory-lock namespace of the frequency cap's contacts


def _lock_contacts(contact_ids: list[int]) -> None:
    """Lock the contacts until the transaction ends, in id order (no deadlock between two
    workers). PostgreSQL only: SQLite runs one writer at a time."""
    if connection.vendor != "postgresql":
        return
    keys = sorted({contact_id % 2_147_483_647 for contact_id in contact_ids})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, k) FROM "
            "(SELECT k FROM unnest(%s::int[]) AS k ORDER BY k) AS keys",
            [LOCK_CLASS, keys],
        )
        cursor.fetchall()
