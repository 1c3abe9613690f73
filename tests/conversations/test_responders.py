"""Replies to inbound messages: the `inbound` hook runs the responder, the reply is queued."""

import pytest

from campaigns.models import Campaign
from conversations.models import AgentRule
from messaging.models import InboundMessage, Message
from tests.factories import ContactFactory, ContactGroupFactory
from tests.messaging.factories import MessageFactory, SenderFactory
from tests.messaging.helpers import inbound_params, signed_post

from .factories import AgentFactory

URL = "/webhooks/twilio/inbound"
NUMBER = "+14155559999"
pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(workspace):
    return SenderFactory(workspace=workspace, address=NUMBER)


@pytest.fixture
def contact(workspace):
    return ContactFactory(workspace=workspace, first_name="Ann", phone="+14155550123")


def _send(client, body, *, sid="SM" + "1" * 32, from_="+14155550123", to=NUMBER, **more):
    return signed_post(client, URL, inbound_params(sid, body=body, from_=from_, to=to, **more))


def test_inbound_agent_rule_reply_goes_through_the_outbox(client, workspace, sender, contact):
    agent = AgentFactory(workspace=workspace)
    AgentRule.objects.create(
        workspace=workspace, agent=agent, keyword="CONFIRM", reply="<ok> {{first_name}}"
    )
    group = ContactGroupFactory(workspace=workspace)
    campaign = Campaign.objects.create(workspace=workspace, name="Visits", group=group, agent=agent)
    MessageFactory(workspace=workspace, contact=contact, campaign=campaign)
    response = _send(client, "confirm!")
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response />'
    reply = Message.objects.get(status="queued")
    assert (reply.body, reply.to_address, reply.sender) == ("<ok> Ann", contact.phone, sender)
    assert InboundMessage.objects.get().action == "agent_reply"


def test_inbound_unmatched_agent_keyword_queues_nothing(client, workspace, sender, contact):
    agent = AgentFactory(workspace=workspace)
    AgentRule.objects.create(workspace=workspace, agent=agent, keyword="CONFIRM", reply="ok")
    group = ContactGroupFactory(workspace=workspace)
    campaign = Campaign.objects.create(workspace=workspace, name="Visits", group=group, agent=agent)
    MessageFactory(workspace=workspace, contact=contact, campaign=campaign)
    _send(client, "maybe")
    assert not Message.objects.filter(status="queued").exists()


class EchoResponder:
    def reply(self, inbound):
        return f"echo: {inbound.body}"


def test_inbound_custom_responder_is_used(client, settings, sender, contact):
    settings.HERALD_RESPONDER = "tests.conversations.test_responders.EchoResponder"
    _send(client, "anything")
    assert Message.objects.get(status="queued").body == "echo: anything"
