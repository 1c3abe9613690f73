"""Sending abuse controls (SMS pumping and toll fraud, reliability.md A16).

Checked at send time, right before the provider call, for every message whatever queued it
(a campaign, a test send, an agent's reply), so a blocked number gets no provider call:

- where SMS and calls may go: the workspace's sending countries (`Workspace.send_regions`,
  by default its own region only); premium-rate and shared-cost numbers never.
- how many messages a day: `Workspace.daily_send_limit`, counted per day of the workspace's
  time zone in `DailySendCount` (one conditional UPDATE per message, so concurrent workers
  never pass the limit). A campaign message over the limit goes back to the queue and its
  campaign is paused with the reason (the `limit_reached` hook); any other message fails
  with it. A message is counted right before its provider call and given back when it
  turned out not to go: put back in the queue (its sender busy or backed off, its account
  refused, its lease lost, a retryable error; it is counted when it goes) or refused by the
  provider. What may have gone (sent, delivered, unknown) stays counted.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import F
from phonenumbers import NumberParseException, PhoneNumberType

from accounts.models import Workspace

from .models import PHONE_CHANNELS, DailySendCount, Message

PREMIUM_TYPES = frozenset({PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST})
_destinations: dict[tuple[str, int], tuple[str, bool]] = {}


def destination(e164: str) -> tuple[str, bool]:
    """The region of a number and whether it is premium-rate or shared-cost.

    Both are assigned by prefix, so they are cached by the number's first digits and length.
    """
    key = (e164[:10], len(e164))
    found = _destinations.get(key)
    if found is None:
        try:
            number = phonenumbers.parse(e164)
            region = phonenumbers.region_code_for_number(number) or ""
            found = (region, phonenumbers.number_type(number) in PREMIUM_TYPES)
        except NumberParseException:
            found = ("", False)
        if len(_destinations) >= 100_000:
            _destinations.clear()
        _destinations[key] = found
    return found


def destination_refusal(workspace: Workspace, to_address: str) -> str | None:
    """Why the workspace may not send an SMS or call to this number; None when it may."""
    region, premium = destination(to_address)
    if premium:
        return f"{to_address} is a premium-rate or shared-cost number: Herald never sends to one."
    allowed = workspace.send_regions
    if region not in allowed:
        return (
            f"{to_address} is {'in ' + region if region else 'in no known country'}, not in this "
            f"workspace's sending countries ({', '.join(sorted(allowed))})."
        )
    return None


def workspace_day(workspace: Workspace, at: datetime) -> date:
    return at.astimezone(ZoneInfo(workspace.timezone)).date()


def limit_reason(workspace: Workspace, at: datetime) -> str:
    return (
        f"The workspace reached its daily send limit of {workspace.daily_send_limit} messages "
        f"on {workspace_day(workspace, at).isoformat()}. Resume the campaign on a later day, "
        "or raise the limit in the workspace settings."
    )


def daily_send_reserve(workspace: Workspace, at: datetime) -> bool:
    """Count one message against the workspace's daily limit; False (nothing counted) when
    the day's limit is reached. Always True for a workspace without a limit."""
    limit = workspace.daily_send_limit
    if limit is None:
        return True
    today = DailySendCount.objects.filter(workspace=workspace, day=workspace_day(workspace, at))
    if today.filter(sent__lt=limit).update(sent=F("sent") + 1):
        return True
    if today.exists():
        return False
    try:
        with transaction.atomic():
            DailySendCount.objects.create(
                workspace=workspace, day=workspace_day(workspace, at), sent=1
            )
        return True
    except IntegrityError:  # another worker counted the day's first message just now
        return bool(today.filter(sent__lt=limit).update(sent=F("sent") + 1))


def daily_send_release(workspace: Workspace, at: datetime) -> None:
    """Give back one message counted by daily_send_reserve that was not sent after all."""
    today = DailySendCount.objects.filter(workspace=workspace, day=workspace_day(workspace, at))
    today.filter(sent__gt=0).update(sent=F("sent") - 1)


def daily_sent(workspace: Workspace, at: datetime) -> int:
    row = DailySendCount.objects.filter(workspace=workspace, day=workspace_day(workspace, at))
    return row.values_list("sent", flat=True).first() or 0


class SendGuard:
    """The abuse controls for one claimed batch: its workspaces read once."""

    def __init__(self, messages: list[Message], at: datetime):
        ids = {m.workspace_id for m in messages}
        self.at = at
        self.workspaces = {w.id: w for w in Workspace.objects.filter(id__in=ids)}
        self.full: set[int] = set()  # workspaces that reached their daily limit

    def refusal(self, message: Message) -> str | None:
        workspace = self.workspaces.get(message.workspace_id)
        if workspace is None or message.channel not in PHONE_CHANNELS:
            return None
        return destination_refusal(workspace, message.to_address)

    def reserve(self, message: Message) -> bool:
        workspace = self.workspaces.get(message.workspace_id)
        if workspace is None or workspace.daily_send_limit is None:
            return True
        if workspace.id in self.full:
            return False
        if daily_send_reserve(workspace, self.at):
            return True
        self.full.add(workspace.id)
        return False

    def release(self, message: Message) -> None:
        """A message `reserve` counted goes back to the queue unsent: give its count back."""
        workspace = self.workspaces.get(message.workspace_id)
        if workspace is not None and workspace.daily_send_limit is not None:
            daily_send_release(workspace, self.at)
