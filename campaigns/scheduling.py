"""Timing rules as plain functions: time zones, DST, sending windows, quiet hours, recurrence.

The DST rule (K5, K6). Wall-clock times are turned into instants with `localize`:
* a local time that does not exist (the spring-forward gap, e.g. 02:30 on 2026-03-08 in
  New York) is moved forward by the length of the gap (02:30 EST-reading = 03:30 EDT);
* a local time that happens twice (the fall-back hour, e.g. 01:30 on 2026-11-01 in New York)
  means its first occurrence (01:30 EDT) and fires once.
This is what Python's zoneinfo does for fold=0, so it is also what every other conversion here
does. A daily 09:00 campaign therefore sends at 09:00 local on both switch days.

Windows: hours run 0-24 with the end exclusive; (0, 24) means any time. A window is applied in
the recipient's zone for contact_local campaigns, else in the campaign's zone. With no window,
SMS and voice keep to the workspace's quiet hours (default 08:00-21:00) in the recipient's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CONTACT_LOCAL = "contact_local"
# For contact_local, a run starts when its wall time first arrives anywhere (UTC+14) and each
# message waits in the database until the wall time arrives in its recipient's zone.
EARLIEST_ZONE = "Etc/GMT-14"
LATEST_ZONE = "Etc/GMT+12"
RRULE_DAYS = [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU]
FREQUENCIES = {"daily": rrule.DAILY, "weekly": rrule.WEEKLY, "monthly": rrule.MONTHLY}


class ScheduleError(ValueError):
    """A schedule, window or recurrence that cannot work; the message says why."""


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or ScheduleError for an unknown one."""
    if not name or name == CONTACT_LOCAL:
        raise ScheduleError(f"“{name}” is not a time zone.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"Unknown time zone “{name}”.") from exc


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except ScheduleError:
        return False
    return True


def localize(wall: datetime, tz_name: str) -> datetime:
    """The UTC instant of a naive local wall time in `tz_name`, by the DST rule above."""
    aware = wall.replace(tzinfo=zone(tz_name), fold=0)
    # Normalise through UTC so a gap time comes out as the real instant (shifted forward).
    return aware.astimezone(UTC)


def to_wall(instant: datetime, tz_name: str) -> datetime:
    """The naive local wall time of an aware instant in `tz_name`."""
    return instant.astimezone(zone(tz_name)).replace(tzinfo=None)


def contact_zone(*, contact_timezone: str, phone: str, workspace_timezone: str) -> str:
    """The recipient's zone: the contact's own, else the phone number's, else the workspace's."""
    if contact_timezone and is_valid_zone(contact_timezone):
        return contact_timezone
    if phone:
        tz = _phone_zone(phone)
        if tz:
            return tz
    return workspace_timezone


def _phone_zone(phone: str) -> str:
    from contacts.phones import phone_info

    try:
        tz = phone_info(phone).timezone
    except Exception:  # a stored number that no longer parses: fall back to the workspace
        return ""
    return tz if tz and is_valid_zone(tz) else ""


@dataclass(frozen=True, slots=True)
class Window:
    start_hour: int = 0
    end_hour: int = 24
    excluded_days: tuple[str, ...] = ()

    @property
    def is_always_open(self) -> bool:
        return self.start_hour == 0 and self.end_hour == 24 and not self.excluded_days


ALWAYS = Window()


def validate_window(start_hour: int | None, end_hour: int | None, excluded_days) -> Window:
    """A Window from user input, or ScheduleError saying what is wrong."""
    days = tuple(excluded_days or ())
    for day in days:
        if day not in WEEKDAYS:
            raise ScheduleError(f"“{day}” is not a day of the week (use e.g. “Saturday”).")
    if len(set(days)) == 7:
        raise ScheduleError("Every day is excluded: the campaign could never send.")
    if (start_hour is None) != (end_hour is None):
        raise ScheduleError("Give both the window's start hour and end hour, or neither.")
    if start_hour is None:
        return Window(0, 24, days)
    if not 0 <= start_hour <= 23:
        raise ScheduleError("The window's start hour must be between 0 and 23.")
    if not 1 <= end_hour <= 24:
        raise ScheduleError("The window's end hour must be between 1 and 24.")
    if end_hour <= start_hour:
        raise ScheduleError("The window's end hour must be after its start hour.")
    return Window(start_hour, end_hour, days)


def effective_window(
    *,
    channel: str,
    start_hour: int | None,
    end_hour: int | None,
    excluded_days,
    quiet_start_hour: int,
    quiet_end_hour: int,
) -> tuple[Window, bool]:
    """The window that applies, and whether it is the workspace's quiet hours (recipient-local).

    An explicit window wins. Without one, SMS and voice use the quiet hours; email any time
    (on the excluded days, if some are set).
    """
    days = tuple(excluded_days or ())
    if start_hour is not None and end_hour is not None:
        return Window(start_hour, end_hour, days), False
    if channel in ("sms", "voice"):
        return Window(quiet_start_hour, quiet_end_hour, days), True
    return Window(0, 24, days), False


def next_open(instant: datetime, window: Window, tz_name: str) -> datetime:
    """`instant` if the window is open then, else the next instant it opens (UTC)."""
    if window.is_always_open:
        return instant
    wall = to_wall(instant, tz_name)
    for offset in range(8):
        day = wall.date() + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] in window.excluded_days:
            continue
        opens = localize(datetime.combine(day, time(window.start_hour)), tz_name)
        closes = _day_hour(day, window.end_hour, tz_name)
        if instant < closes:
            return max(instant, opens)
    raise ScheduleError("The sending window never opens.")  # all days excluded


def _day_hour(day: date, hour: int, tz_name: str) -> datetime:
    if hour == 24:
        return localize(datetime.combine(day + timedelta(days=1), time(0)), tz_name)
    return localize(datetime.combine(day, time(hour)), tz_name)


def is_open(instant: datetime, window: Window, tz_name: str) -> bool:
    return next_open(instant, window, tz_name) == instant


# Recurrence -------------------------------------------------------------------------------


def validate_recurrence(recurrence: dict | None) -> dict | None:
    """A clean recurrence dict, or ScheduleError. None/{} means a one-off campaign."""
    if not recurrence:
        return None
    frequency = recurrence.get("frequency")
    if frequency not in FREQUENCIES:
        raise ScheduleError("Recurrence frequency must be daily, weekly or monthly.")
    clean: dict = {"frequency": frequency}
    if frequency == "weekly":
        days = recurrence.get("days") or []
        if not days:
            raise ScheduleError("A weekly recurrence needs at least one day.")
        for day in days:
            if day not in WEEKDAYS:
                raise ScheduleError(f"“{day}” is not a day of the week.")
        clean["days"] = [d for d in WEEKDAYS if d in days]
    if frequency == "monthly":
        dom = recurrence.get("day_of_month")
        if not isinstance(dom, int) or not 1 <= dom <= 31:
            raise ScheduleError("A monthly recurrence needs a day of the month from 1 to 31.")
        clean["day_of_month"] = dom
    until = recurrence.get("until")
    if until:
        try:
            clean["until"] = date.fromisoformat(str(until)[:10]).isoformat()
        except ValueError as exc:
            raise ScheduleError("The recurrence end date must be a date (YYYY-MM-DD).") from exc
    return clean


def _rule(recurrence: dict, first_wall: datetime) -> rrule.rrule:
    kwargs: dict = {"dtstart": first_wall}
    if recurrence.get("days"):
        kwargs["byweekday"] = [RRULE_DAYS[WEEKDAYS.index(d)] for d in recurrence["days"]]
    if recurrence.get("day_of_month"):
        # The 31st in a shorter month means its last day, not a skipped month.
        kwargs["bymonthday"] = (
            [recurrence["day_of_month"]]
            if recurrence["day_of_month"] <= 28
            else [recurrence["day_of_month"], -1]
        )
        if recurrence["day_of_month"] > 28:
            kwargs["bysetpos"] = 1
    if recurrence.get("until"):
        kwargs["until"] = datetime.combine(date.fromisoformat(recurrence["until"]), time.max)
    return rrule.rrule(FREQUENCIES[recurrence["frequency"]], **kwargs)


def next_occurrence_wall(
    recurrence: dict, first_wall: datetime, after_wall: datetime | None, *, inclusive: bool
) -> datetime | None:
    """The next occurrence (naive local wall time) of a recurrence that starts at first_wall."""
    rule = _rule(recurrence, first_wall)
    if after_wall is None:
        return next(iter(rule), None)
    return rule.after(after_wall, inc=inclusive)


def occurrence_instant(wall: datetime, tz_name: str) -> datetime:
    """When a run for this wall time starts: in the zone, or as soon as it arrives anywhere."""
    return localize(wall, EARLIEST_ZONE if tz_name == CONTACT_LOCAL else tz_name)


def last_instant(wall: datetime, tz_name: str) -> datetime:
    """When the wall time has arrived everywhere (to refuse a schedule in the past)."""
    return localize(wall, LATEST_ZONE if tz_name == CONTACT_LOCAL else tz_name)


def upcoming(recurrence: dict, first_wall: datetime, count: int = 5) -> list[datetime]:
    """The first `count` occurrences (wall times), for the review page."""
    return list(islice(_rule(recurrence, first_wall), count))


def send_after_for(
    *,
    wall: datetime | None,
    campaign_tz: str,
    recipient_tz: str,
    window: Window,
    window_in_recipient_zone: bool,
    not_before: datetime,
) -> datetime:
    """When one recipient's message may go: the scheduled time, then the window's next opening.

    `wall` is the run's local wall time (used as the recipient's local time for contact_local),
    `not_before` the instant before which nothing is sent (the run's start or now).
    """
    if wall is None:  # send now
        base = not_before
    elif campaign_tz == CONTACT_LOCAL:
        base = max(localize(wall, recipient_tz), not_before)
    else:
        base = max(localize(wall, campaign_tz), not_before)
    window_tz = (
        recipient_tz if window_in_recipient_zone or campaign_tz == CONTACT_LOCAL else (campaign_tz)
    )
    return next_open(base, window, window_tz)
