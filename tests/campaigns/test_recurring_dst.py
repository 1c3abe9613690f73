"""A recurring campaign across both DST switches, driven through the real engine tick by tick."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.models import Campaign
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group, wall


@pytest.fixture
def clock(monkeypatch):
    """The engine's clock (Django's timezone.now, which every part of it reads), set by the test."""
    state = {"now": datetime(2026, 3, 6, 12, tzinfo=UTC)}

    def now():
        return state["now"]

    monkeypatch.setattr("django.utils.timezone.now", now)
    return state


def _run_ticks(clock, until: datetime, step=timedelta(hours=1)):
    while clock["now"] < until:
        clock["now"] += step
        engine.tick(send_inline=True)


def test_daily_nine_am_new_york_sends_at_nine_local_across_spring_forward(workspace, clock):
    group = make_group(workspace, 2)
    campaign = make_campaign(
        workspace,
        group,
        timezone="America/New_York",
        scheduled_at=datetime(2026, 3, 7, 14, tzinfo=UTC),  # 09:00 EST
        recurrence={"frequency": "daily", "until": "2026-03-09"},
    )
    campaign_launch(campaign=campaign)
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.SCHEDULED
    _run_ticks(clock, datetime(2026, 3, 10, 12, tzinfo=UTC))
    runs = list(campaign.runs.order_by("occurrence_at").values_list("occurrence_at", flat=True))
    assert runs == [
        datetime(2026, 3, 7, 14, tzinfo=UTC),  # 09:00 EST
        datetime(2026, 3, 8, 13, tzinfo=UTC),  # 09:00 EDT, the switch day
        datetime(2026, 3, 9, 13, tzinfo=UTC),
    ]
    sent = Message.objects.filter(campaign=campaign).order_by("sent_at")
    assert sent.count() == 6 and set(sent.values_list("status", flat=True)) == {"delivered"}
    for message in sent:
        local = message.sent_at.astimezone(ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) == (9, 0)  # the hourly tick at 09:00 local
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED


def test_daily_at_repeated_hour_fires_once_on_fall_back_day(workspace, clock):
    clock["now"] = datetime(2026, 10, 30, 12, tzinfo=UTC)
    group = make_group(workspace, 1)
    campaign = make_campaign(
        workspace,
        group,
        timezone="America/New_York",
        scheduled_at=datetime(2026, 10, 31, 5, 30, tzinfo=UTC),  # 01:30 EDT
        recurrence={"frequency": "daily", "until": "2026-11-02"},
    )
    campaign_launch(campaign=campaign)
    _run_ticks(clock, datetime(2026, 11, 3, 12, tzinfo=UTC))
    runs = list(campaign.runs.order_by("occurrence_at").values_list("occurrence_at", flat=True))
    assert runs == [
        datetime(2026, 10, 31, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # the first 01:30, once
        datetime(2026, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST
    ]
    assert Message.objects.filter(campaign=campaign).count() == 3


def test_contact_local_schedule_sends_at_each_recipients_nine_am(workspace, clock):
    group = make_group(workspace, 1, name="Tokyo", timezone="Asia/Tokyo")
    make_group_la = make_group(workspace, 1, name="LA")
    for member in make_group_la.memberships.all():
        member.group = group
        member.save()
    campaign = make_campaign(
        workspace,
        group,
        timezone="contact_local",
        scheduled_at=wall(2026, 3, 8, 9).replace(tzinfo=UTC),  # the wall time, labelled UTC
    )
    campaign_launch(campaign=campaign)
    _run_ticks(clock, datetime(2026, 3, 9, 12, tzinfo=UTC))
    by_zone = {m.contact.timezone: m.send_after for m in Message.objects.select_related("contact")}
    assert by_zone == {
        "Asia/Tokyo": datetime(2026, 3, 8, 0, tzinfo=UTC),
        "America/Los_Angeles": datetime(2026, 3, 8, 16, tzinfo=UTC),  # 09:00 PDT (switch day)
    }
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}
