# ruff: noqa: F811 (pytest fixtures imported from test_outbox are arguments here)
"""Sending abuse controls (issue 13, item 7): sending countries, premium-rate numbers, the
daily send limit (pausing campaigns with the reason), and test sends throttled per user and
per workspace."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.forms import WorkspaceSettingsForm
from campaigns import fanout, lifecycle
from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch, campaign_resume
from campaigns.models import Campaign
from campaigns.services import campaign_test_send
from contacts.models import Contact, GroupMembership
from core.ratelimit import rate_limit_reset
from messaging.backends import PermanentError, RateLimited, RetryableError
from messaging.guards import destination, destination_refusal
from messaging.models import DailySendCount, Message
from messaging.outbox import message_enqueue
from messaging.sending import outbox_send
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.factories import UserFactory

from .test_outbox import scripted  # noqa: F401 (the recording backend fixture)

pytestmark = pytest.mark.django_db
S = Message.Status
JAMAICA, UK_MOBILE = "+18762345678", "+447400123456"
US_PREMIUM, UK_PREMIUM = "+19002345678", "+449098765432"


def _add(group, *phones):
    for i, phone in enumerate(phones):
        contact = Contact.objects.create(workspace=group.workspace, first_name=f"X{i}", phone=phone)
        GroupMembership.objects.create(group=group, contact=contact)


def test_destinations_by_country_and_number_type(workspace):
    assert destination(JAMAICA) == ("JM", False)  # +1, yet not the US: pumping's favourite
    assert destination(US_PREMIUM) == ("US", True)
    assert destination(UK_PREMIUM) == ("GB", True)
    assert destination_refusal(workspace, "+14155550100") is None
    assert "in JM, not in this workspace's sending countries (US)" in destination_refusal(
        workspace, JAMAICA
    )
    workspace.send_countries = "GB US"
    assert destination_refusal(workspace, UK_MOBILE) is None
    assert "premium-rate" in destination_refusal(workspace, UK_PREMIUM)
    assert "premium-rate" in destination_refusal(workspace, US_PREMIUM)


def test_blocked_destinations_get_no_provider_call(workspace, scripted):
    group = make_group(workspace, 2)
    _add(group, JAMAICA, UK_MOBILE, US_PREMIUM)
    campaign_launch(campaign=make_campaign(workspace, group, sender=make_sender(workspace)))
    engine.tick(send_inline=True)
    sent = Message.objects.filter(status=S.SENT)
    assert sorted(sent.values_list("to_address", flat=True)) == ["+14155550000", "+14155550001"]
    assert sorted(scripted.calls) == sorted(sent.values_list("id", flat=True))
    blocked = Message.objects.filter(status=S.SKIPPED, skip_reason=Message.SkipReason.BLOCKED)
    assert sorted(blocked.values_list("to_address", flat=True)) == sorted(
        [JAMAICA, UK_MOBILE, US_PREMIUM]
    )
    # once the workspace sends to the UK, its mobiles go; premium numbers never
    workspace.send_countries = "US GB"
    workspace.save()
    group2 = make_group(workspace, 0, name="Again")
    _add(group2, UK_MOBILE, UK_PREMIUM)
    campaign_launch(campaign=make_campaign(workspace, group2, name="Again"))
    engine.tick(send_inline=True)
    again = Message.objects.filter(campaign__name="Again")
    assert dict(again.values_list("to_address", "status")) == {
        UK_MOBILE: S.SENT,
        UK_PREMIUM: S.SKIPPED,
    }


def test_daily_send_limit_pauses_the_campaign_with_the_reason(
    workspace, scripted, client_logged_in, api_client
):
    workspace.daily_send_limit = 3
    workspace.save()
    campaign = campaign_launch(campaign=make_campaign(workspace, make_group(workspace, 5)))
    engine.tick(send_inline=True)
    assert len(scripted.calls) == 3
    assert Message.objects.filter(status=S.SENT).count() == 3
    held = Message.objects.filter(status=S.QUEUED)
    assert held.count() == 2 and set(held.values_list("attempts", flat=True)) == {0}
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED
    assert "daily send limit of 3 messages" in campaign.pause_reason
    assert DailySendCount.objects.get().sent == 3
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert "Paused by Herald: The workspace reached its daily send limit" in page.content.decode()
    shown = api_client.get(f"/api/v1/campaigns/{campaign.pk}").json()
    assert shown["state"] == "paused" and "daily send limit of 3" in shown["pause_reason"]
    engine.tick(send_inline=True)
    assert len(scripted.calls) == 3  # paused: nothing more today
    # a message outside a campaign (an agent's reply) fails with the reason, unsent
    reply = message_enqueue(workspace=workspace, channel="sms", to_address="+14155550999", body=".")
    outbox_send(message_ids=[reply.pk])
    reply.refresh_from_db()
    assert reply.status == S.FAILED and "daily send limit" in reply.last_error
    assert len(scripted.calls) == 3
    # raised limit, resumed by a person: the reason goes, the rest is sent
    workspace.daily_send_limit = 10
    workspace.save()
    campaign = campaign_resume(campaign=campaign)
    assert campaign.pause_reason == ""
    engine.tick(send_inline=True)
    assert len(scripted.calls) == 5
    assert DailySendCount.objects.get().sent == 5


def test_workspace_settings_take_country_codes_and_a_limit(workspace):
    data = {
        "name": workspace.name,
        "default_region": "US",
        "timezone": "America/New_York",
        "quiet_start_hour": 8,
        "quiet_end_hour": 21,
        "frequency_cap_hours": 24,
        "currency": "USD",
        "click_window_days": 5,
        "delivered_window_hours": 24,
    }
    form = WorkspaceSettingsForm({**data, "send_countries": "us, gb  ca"}, instance=workspace)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["send_countries"] == "CA GB US"
    form = WorkspaceSettingsForm({**data, "send_countries": "US XX"}, instance=workspace)
    assert "Not a country code: XX" in str(form.errors["send_countries"])
    form = WorkspaceSettingsForm({**data, "daily_send_limit": "0"}, instance=workspace)
    assert "daily_send_limit" in form.errors


# Test sends -------------------------------------------------------------------------------


def test_test_sends_are_throttled_per_user_and_per_workspace(workspace, scripted, settings):
    settings.HERALD_TEST_SEND_LIMIT_USER = 2
    settings.HERALD_TEST_SEND_LIMIT_WORKSPACE = 3
    campaign = make_campaign(workspace, make_group(workspace, 1))
    ann, bob = UserFactory(), UserFactory()
    names = [f"test-send:ws:{workspace.pk}", f"test-send:user:{ann.pk}", f"test-send:user:{bob.pk}"]
    for name in names:  # counts an earlier run of the suite left in the cache
        rate_limit_reset(name, window_seconds=3600)
    for _ in range(2):
        campaign_test_send(campaign=campaign, to="+14155550100", user=ann)
    with pytest.raises(ValidationError, match="Too many test messages this hour"):
        campaign_test_send(campaign=campaign, to="+14155550100", user=ann)
    campaign_test_send(campaign=campaign, to="+14155550100", user=bob)  # the workspace's 3rd
    with pytest.raises(ValidationError, match="Too many test messages this hour"):
        campaign_test_send(campaign=campaign, to="+14155550100", user=bob)
    assert len(scripted.calls) == 3


def test_test_send_to_a_blocked_destination_is_refused_before_anything(workspace, scripted):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    for number, words in (
        (JAMAICA, "not in this workspace's sending countries"),
        (US_PREMIUM, "premium-rate"),
    ):
        with pytest.raises(ValidationError, match=words):
            campaign_test_send(campaign=campaign, to=number)
    assert not Message.objects.exists() and scripted.calls == []


@pytest.mark.parametrize(
    "answer",
    [
        RateLimited("Twilio 429", code="20429", retry_after=30),  # back to the queue
        RetryableError("Twilio busy", code="20500"),  # retried later, as an attempt
        PermanentError("Wrong credentials", code="20003", account=True),  # the run pauses
        PermanentError("Not a mobile number", code="21614"),  # refused: it never went
        "opted out",  # skipped at send time: no provider call at all
    ],
)
def test_the_daily_count_gives_back_what_did_not_go(workspace, scripted, answer):
    """The day's count is of messages that went (or may have): one put back in the queue
    or refused would otherwise be counted again when it goes, and the limit reached early."""
    workspace.daily_send_limit = 10
    workspace.save()
    campaign = make_campaign(workspace, make_group(workspace, 3), max_retries=3)
    campaign_launch(campaign=campaign)
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    first = Contact.objects.order_by("id").first()
    if answer == "opted out":  # after the fan-out, before the send
        Contact.objects.filter(pk=first.pk).update(
            status=Contact.Status.OPTED_OUT, opt_out_reason=Contact.OptOutReason.MESSAGE
        )
    else:
        scripted.errors[first.phone] = answer
    engine.tick(send_inline=True)
    went = Message.objects.filter(status__in=[S.SENT, S.DELIVERED, S.UNKNOWN]).count()
    assert went == len(scripted.calls) and DailySendCount.objects.get().sent == went
