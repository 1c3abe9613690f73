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
    """The cap at send time for one claimed batch: the counts of its contacts read once,
    raised when a message's provider call starts (calls run several at once) and lowered
    again when it did not go out, so two messages of the batch cannot both pass a full cap."""

    def __init__(self, messages: list[Message], at: datetime):
        self.caps: dict[int, Cap] = {}
        self.counts: dict[int, int] = {}
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
            self.counts.update(
                campaign_message_counts(
                    cap=cap, contact_ids=by_workspace[workspace.id], at=at, include_queued=False
                )
            )

    def _cap(self, message: Message) -> Cap | None:
        if not (message.campaign_id and message.contact_id):
            return None
        return self.caps.get(message.workspace_id)

    def allows(self, message: Message) -> bool:
        cap = self._cap(message)
        return cap is None or self.counts.get(message.contact_id, 0) < cap.messages

    def start(self, message: Message) -> None:
        """Its provider call starts: it counts while the call is in flight."""
        if self._cap(message) is not None:
            self.counts[message.contact_id] = self.counts.get(message.contact_id, 0) + 1

    def finish(self, message: Message, status: str) -> None:
        """Its call answered: a message that did not go out no longer counts."""
        if self._cap(message) is not None and status not in WENT_OUT:
            self.counts[message.contact_id] -= 1
