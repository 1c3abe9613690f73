"""Timing rules: DST, windows, quiet hours, contact_local zones, recurrences (plain functions)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns import scheduling as sch
from tests.campaigns.helpers import wall

NY = "America/New_York"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_localize_nonexistent_time_moves_forward_by_the_gap():
    # 2026-03-08 02:30 does not exist in New York: it is 03:30 EDT = 07:30Z.
    assert sch.localize(wall(2026, 3, 8, 2, 30), NY) == utc(2026, 3, 8, 7, 30)


def test_localize_repeated_time_is_its_first_occurrence():
    # 2026-11-01 01:30 happens twice; the first is EDT (UTC-4) = 05:30Z.
    assert sch.localize(wall(2026, 11, 1, 1, 30), NY) == utc(2026, 11, 1, 5, 30)


def test_daily_nine_am_is_nine_am_local_on_both_switch_days():
    rule = {"frequency": "daily"}
    first = wall(2026, 3, 7, 9, 0)
    walls = sch.upcoming(rule, first, 3)
    instants = [sch.occurrence_instant(w, NY) for w in walls]
    assert [sch.to_wall(i, NY).hour for i in instants] == [9, 9, 9]
    assert instants[0] == utc(2026, 3, 7, 14, 0)  # EST
    assert instants[1] == utc(2026, 3, 8, 13, 0)  # EDT from the switch day on
    autumn = [sch.occurrence_instant(w, NY) for w in sch.upcoming(rule, wall(2026, 10, 31, 9), 2)]
    assert autumn == [utc(2026, 10, 31, 13, 0), utc(2026, 11, 1, 14, 0)]


def test_daily_at_ambiguous_time_fires_once_per_local_day():
    walls = sch.upcoming({"frequency": "daily"}, wall(2026, 10, 31, 1, 30), 3)
    instants = [sch.occurrence_instant(w, NY) for w in walls]
    assert instants == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_next_occurrence_after_is_strict_and_weekly_days():
    rule = sch.validate_recurrence({"frequency": "weekly", "days": ["Friday", "Monday"]})
    assert rule["days"] == ["Monday", "Friday"]
    first = wall(2026, 1, 5, 9)  # a Monday
    assert sch.next_occurrence_wall(rule, first, first, inclusive=False) == wall(2026, 1, 9, 9)
    assert sch.next_occurrence_wall(rule, first, first, inclusive=True) == first


def test_monthly_on_the_31st_uses_the_last_day_of_short_months():
    walls = sch.upcoming({"frequency": "monthly", "day_of_month": 31}, wall(2026, 1, 31, 8), 3)
    assert walls == [wall(2026, 1, 31, 8), wall(2026, 2, 28, 8), wall(2026, 3, 31, 8)]


def test_recurrence_until_ends_it():
    rule = sch.validate_recurrence({"frequency": "daily", "until": "2026-01-02"})
    first = wall(2026, 1, 1, 9)
    assert sch.next_occurrence_wall(rule, first, wall(2026, 1, 2, 9), inclusive=False) is None


@pytest.mark.parametrize(
    "recurrence, message",
    [
        ({"frequency": "hourly"}, "daily, weekly or monthly"),
        ({"frequency": "weekly"}, "at least one day"),
        ({"frequency": "weekly", "days": ["Funday"]}, "not a day"),
        ({"frequency": "monthly", "day_of_month": 32}, "1 to 31"),
        ({"frequency": "daily", "until": "soon"}, "YYYY-MM-DD"),
    ],
)
def test_bad_recurrences_are_refused(recurrence, message):
    with pytest.raises(sch.ScheduleError, match=message):
        sch.validate_recurrence(recurrence)


@pytest.mark.parametrize(
    "start, end, days, message",
    [
        (9, 9, [], "after its start"),
        (17, 9, [], "after its start"),
        (-1, 9, [], "between 0 and 23"),
        (9, 25, [], "between 1 and 24"),
        (9, None, [], "both"),
        (None, None, sch.WEEKDAYS, "Every day is excluded"),
        (None, None, ["Caturday"], "not a day"),
    ],
)
def test_bad_windows_are_refused(start, end, days, message):
    with pytest.raises(sch.ScheduleError, match=message):
        sch.validate_window(start, end, days)


def test_window_zero_to_24_is_always_open():
    assert sch.validate_window(0, 24, []).is_always_open


def test_next_open_inside_window_is_unchanged_and_outside_waits():
    window = sch.Window(9, 17, ())
    inside = utc(2026, 6, 1, 14)  # 10:00 in New York (EDT)
    assert sch.next_open(inside, window, NY) == inside
    late = utc(2026, 6, 1, 22)  # 18:00 local → next day 09:00 EDT
    assert sch.next_open(late, window, NY) == utc(2026, 6, 2, 13)
    early = utc(2026, 6, 1, 11)  # 07:00 local → 09:00 the same day
    assert sch.next_open(early, window, NY) == utc(2026, 6, 1, 13)


def test_end_hour_is_exclusive_and_24_means_midnight():
    assert not sch.is_open(utc(2026, 6, 1, 21), sch.Window(9, 17, ()), NY)  # 17:00 local
    assert sch.is_open(utc(2026, 6, 2, 3, 59), sch.Window(20, 24, ()), NY)  # 23:59 local


def test_excluded_days_skip_to_next_allowed_day():
    window = sch.Window(9, 17, ("Saturday", "Sunday"))
    friday_evening = utc(2026, 6, 5, 22)  # Friday 18:00 EDT
    assert sch.next_open(friday_evening, window, NY) == utc(2026, 6, 8, 13)  # Monday 09:00


def test_window_opening_on_spring_forward_day_is_dst_correct():
    window = sch.Window(2, 5, ())  # opens at 02:00, which does not exist on 2026-03-08
    before = utc(2026, 3, 8, 5)  # 00:00 EST
    assert sch.next_open(before, window, NY) == utc(2026, 3, 8, 7)  # 03:00 EDT


def test_quiet_hours_apply_to_sms_and_voice_not_email():
    for channel in ("sms", "voice"):
        window, quiet = sch.effective_window(
            channel=channel,
            start_hour=None,
            end_hour=None,
            excluded_days=[],
            quiet_start_hour=8,
            quiet_end_hour=21,
        )
        assert (window.start_hour, window.end_hour, quiet) == (8, 21, True)
    window, quiet = sch.effective_window(
        channel="email",
        start_hour=None,
        end_hour=None,
        excluded_days=[],
        quiet_start_hour=8,
        quiet_end_hour=21,
    )
    assert window.is_always_open and not quiet
    window, quiet = sch.effective_window(
        channel="sms",
        start_hour=10,
        end_hour=12,
        excluded_days=[],
        quiet_start_hour=8,
        quiet_end_hour=21,
    )
    assert (window.start_hour, quiet) == (10, False)


def test_contact_zone_prefers_contact_then_phone_then_workspace():
    assert (
        sch.contact_zone(
            contact_timezone="Europe/Paris", phone="+14155550100", workspace_timezone=NY
        )
        == "Europe/Paris"
    )
    assert (
        sch.contact_zone(contact_timezone="", phone="+442071838750", workspace_timezone=NY)
        == "Europe/London"
    )
    assert sch.contact_zone(contact_timezone="Bad/Zone", phone="", workspace_timezone=NY) == NY


def test_contact_local_sends_at_each_recipients_wall_time():
    common = {
        "wall": wall(2026, 6, 1, 9),
        "campaign_tz": sch.CONTACT_LOCAL,
        "window": sch.ALWAYS,
        "window_in_recipient_zone": True,
        "not_before": utc(2026, 5, 31),
    }
    tokyo = sch.send_after_for(recipient_tz="Asia/Tokyo", **common)
    la = sch.send_after_for(recipient_tz="America/Los_Angeles", **common)
    assert tokyo == utc(2026, 6, 1, 0) and la == utc(2026, 6, 1, 16)


def test_contact_local_run_starts_when_the_wall_time_first_arrives():
    assert sch.occurrence_instant(wall(2026, 6, 1, 9), sch.CONTACT_LOCAL) == utc(2026, 5, 31, 19)
    assert sch.last_instant(wall(2026, 6, 1, 9), sch.CONTACT_LOCAL) == utc(2026, 6, 1, 21)


def test_unknown_zone_is_refused():
    with pytest.raises(sch.ScheduleError, match="Unknown time zone"):
        sch.zone("Mars/Olympus")
    assert not sch.is_valid_zone("contact_local")


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=wall(2026, 1, 1), max_value=wall(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    start=st.integers(0, 23),
    length=st.integers(1, 24),
    zone=st.sampled_from([NY, "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]),
    excluded=st.sets(st.sampled_from(sch.WEEKDAYS), max_size=6),
)
def test_next_open_is_never_earlier_and_always_inside_the_window(
    instant, start, length, zone, excluded
):
    window = sch.Window(start, min(start + length, 24), tuple(excluded))
    opened = sch.next_open(instant, window, zone)
    assert opened >= instant
    local = opened.astimezone(sch.zone(zone))
    assert sch.WEEKDAYS[local.weekday()] not in excluded
    assert sch.is_open(opened, window, zone)
