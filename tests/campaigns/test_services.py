"""Campaign writes: the builder's steps, the test send through the outbox, the body template."""

import pytest
from django.core.exceptions import ValidationError

from campaigns import fanout, lifecycle, selectors
from campaigns.models import Campaign
from campaigns.services import campaign_draft_create, campaign_step_save, campaign_test_send
from conversations.models import Agent
from messaging.backends import PermanentError
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.factories import ContactGroupFactory
from tests.messaging.test_outbox import scripted  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_draft_is_created_for_a_group_of_the_workspace_only(workspace):
    with pytest.raises(ValidationError, match="Not found in this workspace"):
        campaign_draft_create(workspace=workspace, group_id=ContactGroupFactory().pk)
    with pytest.raises(ValidationError, match="Not found in this workspace"):
        campaign_draft_create(workspace=workspace, group_id="1; DROP")
    with pytest.raises(ValidationError, match="Choose a group"):
        campaign_draft_create(workspace=workspace, group_id="")
    group = make_group(workspace, 1, name="VIP")
    campaign = campaign_draft_create(workspace=workspace, group_id=str(group.pk))
    assert (campaign.group, campaign.state, campaign.name[:12]) == (group, "draft", "VIP campaign")


def test_step_save_writes_the_step_and_refuses_its_errors(workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1), message_template="Old")
    with pytest.raises(ValidationError) as refused:
        campaign_step_save(campaign=campaign, step="message", data={"message_template": " "})
    assert refused.value.message_dict == {"message_template": ["Write the message."]}
    assert Campaign.objects.get().message_template == "Old"
    campaign_step_save(campaign=campaign, step="message", data={"message_template": "New"})
    assert Campaign.objects.get().message_template == "New"


def test_step_save_of_a_new_channel_drops_the_other_channels_sender(workspace):
    sender = make_sender(workspace)
    campaign = make_campaign(workspace, make_group(workspace, 1), sender=sender)
    campaign_step_save(campaign=campaign, step="channel", data={"channel": "voice"})
    assert (Campaign.objects.get().channel, Campaign.objects.get().sender) == ("voice", None)


def test_step_save_refuses_a_launched_campaign(workspace, scripted):  # noqa: F811
    campaign = lifecycle.campaign_launch(campaign=make_campaign(workspace, make_group(workspace)))
    with pytest.raises(ValidationError, match="launched"):
        campaign_step_save(campaign=campaign, step="message", data={"message_template": "x"})


def test_test_send_goes_through_the_outbox(workspace, scripted):  # noqa: F811
    campaign = make_campaign(
        workspace, make_group(workspace, 1), message_template="Hi {{first_name}}"
    )
    message = campaign_test_send(campaign=campaign, to="(415) 555-0199")
    assert scripted.calls == [message.pk]
    assert (message.status, message.to_address, message.body) == ("sent", "+14155550199", "Hi Alex")
    assert (message.campaign, message.run, message.provider_message_id) == (
        None,
        None,
        f"p-{message.pk}",
    )


def test_test_send_refused_by_the_provider_says_why(workspace, scripted):  # noqa: F811
    scripted.errors["+14155550199"] = PermanentError(
        "Twilio 400 (code 21211): invalid", code="21211"
    )
    campaign = make_campaign(workspace, make_group(workspace, 1))
    with pytest.raises(ValidationError, match="could not be sent: Twilio 400"):
        campaign_test_send(campaign=campaign, to="+14155550199")
    assert Message.objects.get().status == Message.Status.FAILED


def test_a_call_without_a_message_speaks_the_agents_opening_everywhere(workspace, scripted):  # noqa: F811
    agent = Agent.objects.create(
        workspace=workspace, name="Ava", opening_message="Hi {{first_name}}, Ava here"
    )
    group = make_group(workspace, 1)
    campaign = make_campaign(
        workspace,
        group,
        channel="voice",
        message_template="",
        agent=agent,
        sender=make_sender(workspace, channel="voice"),
    )
    assert campaign.body_template == agent.opening_message
    # The review page's preview and the test send …
    preview = selectors.group_audience(campaign=campaign)["previews"][0]
    assert preview["body"] == "Hi Ann0, Ava here"
    assert campaign_test_send(campaign=campaign, to="+14155550199").body == "Hi Alex, Ava here"
    # … and every recipient.
    campaign = lifecycle.campaign_launch(campaign=campaign)
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    assert Message.objects.get(run__isnull=False).body == "Hi Ann0, Ava here"
