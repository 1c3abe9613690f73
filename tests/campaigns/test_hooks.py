"""Campaigns hears from messaging through its hooks (messaging never imports campaigns)."""

import pytest

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.models import Campaign, CampaignRun
from messaging import outbox
from messaging.models import Message
from tests.messaging.test_outbox import scripted  # noqa: F401 (a fixture)

from .helpers import make_campaign, make_group

pytestmark = pytest.mark.django_db


def test_a_requeued_message_reopens_its_finished_run_and_campaign(workspace, scripted):  # noqa: F811
    campaign = campaign_launch(campaign=make_campaign(workspace, make_group(workspace, 2)))
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    lost = Message.objects.order_by("id").first()
    Message.objects.filter(pk=lost.pk).update(status=Message.Status.UNKNOWN)

    outbox.outbox_reconcile()  # the provider never got it: back to the queue

    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    assert CampaignRun.objects.get().state == CampaignRun.State.RUNNING
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    assert Message.objects.get(pk=lost.pk).status == Message.Status.SENT


def test_the_settings_register_the_campaign_and_conversation_hooks(settings):
    hooks = settings.HERALD_MESSAGING_HOOKS
    assert "campaigns.hooks.messages_requeued" in hooks["requeued"]
    assert "conversations.hooks.inbound_received" in hooks["inbound"]
