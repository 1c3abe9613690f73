"""The background heartbeat: is anything running the tick and the tasks?

The tick records when it last ran and every worker process records every half minute that it
is alive (config/celery.py). When neither has been seen for HERALD_BACKGROUND_STALE_SECONDS,
sending and imports are paused and every dashboard page and /healthz say so. A live worker
whose tick has stopped (no beat running, or a single worker busy with a long import) pauses
sending only, and is reported as such.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from django.conf import settings
from django.utils.timezone import now

from .models import Heartbeat

TICK = "tick"
WORKER = "worker"
_recorded: dict[str, float] = {}  # name -> monotonic time this process last wrote it


def heartbeat_record(*, name: str, every: float = 0.0) -> None:
    """Record that `name` is alive now; at most once per `every` seconds from this process."""
    last = _recorded.get(name)
    if last is not None and time.monotonic() - last < every:
        return
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, seen_at=now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["seen_at"],
    )
    _recorded[name] = time.monotonic()


@dataclass(frozen=True)
class BackgroundStatus:
    tick_at: datetime | None
    worker_at: datetime | None
    checked_at: datetime
    stale_after: timedelta

    def _fresh(self, at: datetime | None) -> bool:
        return at is not None and self.checked_at - at <= self.stale_after

    @property
    def last_seen(self) -> datetime | None:
        seen = [at for at in (self.tick_at, self.worker_at) if at is not None]
        return max(seen) if seen else None

    @property
    def offline(self) -> bool:
        """No worker and no tick for a while: nothing in the background runs."""
        return not (self._fresh(self.tick_at) or self._fresh(self.worker_at))

    @property
    def tick_late(self) -> bool:
        """A worker is alive but the tick has not run for a while: sending is paused."""
        return not self.offline and not self._fresh(self.tick_at)

    @property
    def ok(self) -> bool:
        return not self.offline and not self.tick_late


def background_status(*, at: datetime | None = None) -> BackgroundStatus:
    seen = dict(Heartbeat.objects.filter(name__in=[TICK, WORKER]).values_list("name", "seen_at"))
    return BackgroundStatus(
        tick_at=seen.get(TICK),
        worker_at=seen.get(WORKER),
        checked_at=at or now(),
        stale_after=timedelta(seconds=settings.HERALD_BACKGROUND_STALE_SECONDS),
    )


def background_alert(status: BackgroundStatus, zone: tzinfo) -> str:
    """What a dashboard page says about the background, or "" when all is well."""
    if status.ok:
        return ""
    if status.offline and status.last_seen is None:
        return "Background worker not running — sending and imports are paused"
    if status.offline:
        return f"Background worker offline since {_clock(status.last_seen, zone, status)}" + (
            " — sending and imports are paused"
        )
    since = _clock(status.tick_at, zone, status) if status.tick_at else "it started"
    return (
        f"Scheduled sending has not run since {since} — sending is paused "
        "(is celery beat running, or is the only worker busy with a long import?)"
    )


def _clock(at: datetime, zone: tzinfo, status: BackgroundStatus) -> str:
    local = at.astimezone(zone)
    same_day = local.date() == status.checked_at.astimezone(zone).date()
    return local.strftime("%H:%M %Z" if same_day else "%b %-d, %H:%M %Z")
