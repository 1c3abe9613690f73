"""A contact who got a campaign message from an agent's campaign, and their replies."""

import itertools

from campaigns.models import Campaign
from tests.factories import ContactFactory, ContactGroupFactory
from tests.messaging.factories import MessageFactory, SenderFactory
from tests.messaging.helpers import inbound_params, signed_post

from .factories import AgentFactory

NUMBER = "+14155559999"
PHONE = "+14155550123"
_sids = itertools.count(1)


class Thread:
    """The setup of a conversation test; `reply(client, body)` posts a signed inbound SMS."""

    def __init__(self, workspace, *, agent_kwargs=None):
        self.workspace = workspace
        self.sender = SenderFactory(workspace=workspace, address=NUMBER)
        self.contact = ContactFactory(
            workspace=workspace, first_name="Ann", last_name="Lee", phone=PHONE, company="Fig"
        )
        self.agent = AgentFactory(
            workspace=workspace,
            instructions="Confirm the visit on Friday at 10.",
            **(agent_kwargs or {}),
        )
        group = ContactGroupFactory(workspace=workspace)
        self.campaign = Campaign.objects.create(
            workspace=workspace, name="Visits", group=group, agent=self.agent, sender=self.sender
        )
        self.campaign_message = MessageFactory(
            workspace=workspace,
            contact=self.contact,
            campaign=self.campaign,
            sender=self.sender,
            body="Hi Ann, your visit is Friday at 10. Reply to confirm.",
        )

    def reply(self, client, body: str, *, from_: str = PHONE, sid: str | None = None):
        sid = sid or f"SM{next(_sids):032x}"
        params = inbound_params(sid, body=body, from_=from_, to=NUMBER)
        response = signed_post(client, "/webhooks/twilio/inbound", params)
        assert response.status_code == 200
        return response
