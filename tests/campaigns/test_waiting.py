"""Waiting is not stalled: the campaign page says what queued messages wait for and when the
next goes; a paused run shows one state; upcoming runs are listed in the workspace's zone."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.timezone import now

from campaigns.models import Campaign, CampaignRun
from campaigns.selectors import campaign_next_runs, campaign_waiting
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group


@pytest.fixture
def group(workspace):
    workspace.timezone = "America/New_York"
    workspace.save()
    return make_group(workspace, 3)


def _queue(campaign, *, delay: timedelta, paused: bool = False, attempts: int = 0) -> CampaignRun:
    run = CampaignRun.objects.create(
        workspace=campaign.workspace, campaign=campaign, occurrence_at=now(),
        state=CampaignRun.State.RUNNING, paused=paused,
    )  # fmt: skip
    for contact in campaign.group.contacts.all():
        Message.objects.create(
            workspace=campaign.workspace, campaign=campaign, run=run, contact=contact,
            channel="sms", to_address=contact.phone, send_after=now() + delay, attempts=attempts,
        )  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.RUNNING)
    return run


def test_quiet_hours_wait_is_named_with_the_recipients_hour(workspace, group):
    campaign = make_campaign(workspace, group, window_start_hour=None, window_end_hour=None)
    _queue(campaign, delay=timedelta(hours=5))
    assert campaign_waiting(campaign=campaign) == [
        "3 waiting for quiet hours — next send 08:00 recipient-local"
    ]


def test_window_wait_names_the_next_send_in_the_workspace_zone(workspace, group):
    campaign = make_campaign(workspace, group, window_start_hour=9, window_end_hour=17)
    _queue(campaign, delay=timedelta(hours=5))
    first = Message.objects.filter(campaign=campaign).order_by("send_after").first().send_after
    with timezone.override("America/New_York"):
        expected = timezone.localtime(first).strftime("%Y-%m-%d %H:%M %Z")
        assert campaign_waiting(campaign=campaign) == [
            f"3 waiting for the sending window — next send {expected}"
        ]


def test_retries_are_counted_apart_and_due_or_paused_messages_are_not_waiting(workspace, group):
    campaign = make_campaign(workspace, group)
    _queue(campaign, delay=timedelta(minutes=10), attempts=1)
    _queue(campaign, delay=timedelta(hours=-1))  # due now: the pump's, not waiting
    _queue(campaign, delay=timedelta(hours=3), paused=True)  # paused, not waiting
    (line,) = campaign_waiting(campaign=campaign)
    assert line.startswith("3 waiting to retry — next attempt ")


def test_contact_local_wait_and_next_runs_say_each_contacts_zone(workspace, group):
    campaign = make_campaign(
        workspace, group, timezone="contact_local",
        scheduled_at=datetime(2030, 3, 4, 9, 0, tzinfo=UTC),  # 09:00 wall time, labelled UTC
        recurrence={"frequency": "weekly", "days": ["Monday", "Wednesday"]},
    )  # fmt: skip
    _queue(campaign, delay=timedelta(hours=2))
    (line,) = campaign_waiting(campaign=campaign)
    assert line.startswith("3 waiting for each contact's local send time — next send ")
    assert campaign_next_runs(campaign=campaign, count=2) == [
        "Mon 2030-03-04 09:00 in each contact's zone",
        "Wed 2030-03-06 09:00 in each contact's zone",
    ]


def test_next_runs_are_in_the_workspace_zone_with_the_zone_named(workspace, group):
    campaign = make_campaign(
        workspace, group, timezone="America/New_York",
        scheduled_at=datetime(2030, 3, 4, 14, 0, tzinfo=UTC),  # 09:00 in New York
        recurrence={"frequency": "daily"},
    )  # fmt: skip
    with timezone.override("Europe/London"):
        assert campaign_next_runs(campaign=campaign, count=1) == ["Mon 2030-03-04 14:00 GMT"]
    with timezone.override("America/New_York"):
        assert campaign_next_runs(campaign=campaign, count=1) == ["Mon 2030-03-04 09:00 EST"]


def test_campaign_page_says_what_waits_and_a_paused_run_has_one_state(
    client_logged_in, workspace, group
):
    campaign = make_campaign(workspace, group, window_start_hour=None, window_end_hour=None)
    _queue(campaign, delay=timedelta(hours=5))
    html = client_logged_in.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "3 waiting for quiet hours — next send 08:00 recipient-local" in html

    CampaignRun.objects.filter(campaign=campaign).update(paused=True)
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.PAUSED)
    html = client_logged_in.get(f"/campaigns/{campaign.pk}/").content.decode()
    row = html[html.index("<tbody>", html.index("<h2>Runs</h2>")) :].split("</tr>")[0]
    assert row.count('class="badge') == 1 and "Paused" in row
    assert "waiting for quiet hours" not in html  # paused, not waiting
