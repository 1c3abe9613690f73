"""When a campaign's runs happen: the first and next occurrence, and a run's wall time (K5).

scheduled_at is stored as the instant in the campaign's zone; for contact_local it holds the
wall time labelled UTC (it is a different instant for every recipient), and a run starts when
that wall time first arrives anywhere (scheduling.EARLIEST_ZONE).
"""

from __future__ import annotations

from datetime import datetime

from . import scheduling
from .models import Campaign, CampaignRun


def _run_zone(campaign: Campaign) -> str:
    """The zone a run's instant is read in: the campaign's, or the earliest for contact_local."""
    if campaign.timezone == scheduling.CONTACT_LOCAL:
        return scheduling.EARLIEST_ZONE
    return campaign.timezone


def campaign_first_wall(campaign: Campaign) -> datetime | None:
    """The local wall time of the campaign's schedule (naive), or None for "send now"."""
    if campaign.scheduled_at is None:
        return None
    tz = "UTC" if campaign.timezone == scheduling.CONTACT_LOCAL else campaign.timezone
    return scheduling.to_wall(campaign.scheduled_at, tz)


def run_wall(campaign: Campaign, run: CampaignRun) -> datetime | None:
    """The wall time a run stands for (None: send at once)."""
    if campaign.scheduled_at is None and not campaign.recurrence:
        return None
    return scheduling.to_wall(run.occurrence_at, _run_zone(campaign))


def first_occurrence(campaign: Campaign, now: datetime) -> datetime | None:
    """The instant of the first run at launch: the schedule, or the recurrence's first date
    from now on (None: the recurrence ends before it starts)."""
    first = campaign_first_wall(campaign)
    if not campaign.recurrence:
        return scheduling.occurrence_instant(first, campaign.timezone)
    after = max(first, scheduling.to_wall(now, _run_zone(campaign)))
    wall = scheduling.next_occurrence_wall(campaign.recurrence, first, after, inclusive=True)
    return scheduling.occurrence_instant(wall, campaign.timezone) if wall else None


def following_occurrence(campaign: Campaign, current: datetime, now: datetime) -> datetime | None:
    """The next run's start after `current` for a recurring campaign (missed ones skipped)."""
    if not campaign.recurrence:
        return None
    first = campaign_first_wall(campaign)
    tz = _run_zone(campaign)
    after = max(scheduling.to_wall(current, tz), scheduling.to_wall(now, tz))
    wall = scheduling.next_occurrence_wall(campaign.recurrence, first, after, inclusive=False)
    return scheduling.occurrence_instant(wall, campaign.timezone) if wall else None


def first_run_wall(campaign: Campaign) -> datetime | None:
    """The wall time of the first run as the builder shows it (None: on launch)."""
    first = campaign_first_wall(campaign)
    if first is None or not campaign.recurrence:
        return first
    return scheduling.next_occurrence_wall(campaign.recurrence, first, None, inclusive=True)


def next_runs(campaign: Campaign, count: int = 5) -> list[datetime]:
    """Upcoming run times (aware) for the review and campaign pages."""
    first = campaign_first_wall(campaign)
    if first is None:
        return []
    if not campaign.recurrence:
        return [scheduling.occurrence_instant(first, campaign.timezone)]
    return [
        scheduling.occurrence_instant(w, campaign.timezone)
        for w in scheduling.upcoming(campaign.recurrence, first, count)
    ]


def next_walls(campaign: Campaign, count: int = 5) -> list[datetime]:
    """Upcoming runs' local wall times (naive): what a contact_local run is sent at, everywhere."""
    first = campaign_first_wall(campaign)
    if first is None:
        return []
    if not campaign.recurrence:
        return [first]
    return list(scheduling.upcoming(campaign.recurrence, first, count))


def campaign_window(campaign: Campaign) -> tuple[scheduling.Window, bool]:
    """The sending window that applies, and whether it is the workspace's quiet hours."""
    return scheduling.effective_window(
        channel=campaign.channel,
        start_hour=campaign.window_start_hour,
        end_hour=campaign.window_end_hour,
        excluded_days=campaign.excluded_days,
        quiet_start_hour=campaign.workspace.quiet_start_hour,
        quiet_end_hour=campaign.workspace.quiet_end_hour,
    )
