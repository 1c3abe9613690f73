"""When a run should finish (H3): its messages at the sender's rate limit, sent only while the
sending window (or quiet hours) is open.

The rate is the campaign sender's limit; a sender without one (or the provider default) is
taken at HERALD_ESTIMATE_SEND_RATE, what one worker sends without a limit. A window read in
each recipient's own zone (quiet hours, contact-local campaigns) is read in the workspace's
zone here: most recipients' hours are near it, and the page says which zone it used. Other
campaigns sharing the sender slow it down; the estimate does not know them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from . import scheduling
from .models import Campaign
from .occurrences import campaign_window, first_run_wall, next_runs
from .selectors import campaign_targets, duration_display

MAX_STRETCHES = 400  # open stretches simulated (past them: "not within a year")


@dataclass(frozen=True)
class Estimate:
    messages: int
    starts_at: datetime  # when the first message may go (the window's opening)
    finishes_at: datetime | None  # None: not within MAX_STRETCHES openings of the window
    rate: float  # messages per second
    rate_assumed: bool  # the sender has no limit: the engine's own rate is assumed
    zone: str  # the zone the window was read in
    spills: bool  # the window closes (for the night, a day off) before the last message

    @property
    def rate_label(self) -> str:
        """ "10 a second", "6 a minute", "3.6 an hour": a slow sender in a readable unit."""
        for per, unit in ((1, "a second"), (60, "a minute"), (3600, "an hour")):
            if self.rate * per >= 1 or per == 3600:
                return f"{self.rate * per:.3g} {unit}"
        raise AssertionError  # unreachable: the last unit always answers

    @property
    def sending_time(self) -> str:
        """How long the sending itself takes at the rate ("3h 20m 0s"), windows aside."""
        return duration_display(self.messages / self.rate)

    @property
    def slow(self) -> bool:
        """The sender's own limit makes the sending itself take over an hour (H3, #14 §5)."""
        return not self.rate_assumed and self.messages / self.rate > 3600

    @property
    def hours(self) -> float:
        end = self.finishes_at or self.starts_at
        return (end - self.starts_at).total_seconds() / 3600


def finish_time(
    *, messages: int, start: datetime, rate: float, window: scheduling.Window, zone: str
) -> tuple[datetime, datetime | None, bool]:
    """(first send, last send, whether the window closes in between) for `messages` sent at
    `rate` per second from `start`, only while `window` is open in `zone`."""
    opened = scheduling.next_open(start, window, zone)
    left = messages / rate
    at, spills = opened, False
    for _ in range(MAX_STRETCHES):
        closes = _closes(at, window, zone)
        if closes is None or left <= (closes - at).total_seconds():
            return opened, at + timedelta(seconds=left), spills
        left -= (closes - at).total_seconds()
        at = scheduling.next_open(closes, window, zone)
        spills = spills or at > closes
    return opened, None, True


def _closes(at: datetime, window: scheduling.Window, zone: str) -> datetime | None:
    """When the open stretch holding `at` ends (None: the window never closes)."""
    if window.is_always_open:
        return None
    day = scheduling.to_wall(at, zone).date()  # `at` is open: the window's day is its day
    if window.end_hour == 24:
        return scheduling.localize(datetime.combine(day + timedelta(days=1), time(0)), zone)
    return scheduling.localize(datetime.combine(day, time(window.end_hour)), zone)


def campaign_estimate(*, campaign: Campaign, messages: int, start: datetime | None = None):
    """The estimate for `messages` of this campaign from `start` (default now); None for none."""
    if messages <= 0:
        return None
    window, quiet = campaign_window(campaign)
    local = quiet or campaign.timezone == scheduling.CONTACT_LOCAL
    zone = campaign.workspace.timezone if local else campaign.timezone
    sender = campaign.sender
    limited = sender is not None and sender.rate_limit_per_second > 0
    rate = sender.rate_limit_per_second if limited else settings.HERALD_ESTIMATE_SEND_RATE
    first, last, spills = finish_time(
        messages=messages, start=start or timezone.now(), rate=rate, window=window, zone=zone
    )
    return Estimate(messages, first, last, rate, not limited, zone, spills)


def _first_start(campaign: Campaign) -> datetime | None:
    """When the builder's campaign would start: now, or its first run (a contact-local one at
    its wall time in the workspace's zone)."""
    if campaign.scheduled_at is None:
        return None
    if campaign.timezone == scheduling.CONTACT_LOCAL:
        wall = first_run_wall(campaign)
        return scheduling.localize(wall, campaign.workspace.timezone) if wall else None
    runs = next_runs(campaign, 1)
    return runs[0] if runs else None


def builder_estimate(*, campaign: Campaign, sendable: int) -> Estimate | None:
    """The review's estimate: the messages that will be sent, from the first run."""
    start = _first_start(campaign)
    return campaign_estimate(campaign=campaign, messages=sendable, start=start)


def page_estimate(*, campaign: Campaign, pending: int) -> Estimate | None:
    """The campaign page's: a running campaign's pending messages from now, a scheduled one's
    next run from its time (as many messages as it targets now)."""
    if campaign.state == Campaign.State.RUNNING and pending:
        return campaign_estimate(campaign=campaign, messages=pending)
    if campaign.state == Campaign.State.SCHEDULED and campaign.next_run_at:
        count = campaign_targets(campaign=campaign).order_by().count()
        return campaign_estimate(campaign=campaign, messages=count, start=campaign.next_run_at)
    return None
