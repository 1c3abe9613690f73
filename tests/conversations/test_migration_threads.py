"""Existing replies get their conversations (conversations 0004), on either database."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from .test_migrations import _migrate

BEFORE = [("conversations", "0003_conversations_and_agent_fields")]
AFTER = [("conversations", "0004_link_existing_threads")]


@pytest.fixture
def old_rows(transactional_db):
    _migrate(BEFORE)
    # Only conversations went back: the other apps' tables are as their models say now.
    from accounts.models import Workspace
    from campaigns.models import Campaign
    from contacts.models import Contact
    from messaging.models import InboundMessage as Inbound
    from messaging.models import Message

    workspace = Workspace.objects.create(name="Acme", slug="acme-threads")
    campaign = Campaign.objects.create(workspace=workspace, name="Visits")
    waiting = Contact.objects.create(workspace=workspace, phone="+14155550001")
    answered = Contact.objects.create(workspace=workspace, phone="+14155550002")
    silent = Contact.objects.create(workspace=workspace, phone="+14155550003")
    now = timezone.now()
    rows = {}
    for contact in (waiting, answered, silent):
        rows[contact.phone] = Message.objects.create(
            workspace=workspace,
            contact=contact,
            campaign=campaign,
            channel="sms",
            to_address=contact.phone,
            body="Your visit is Friday",
            status="delivered",
            sent_at=now - timedelta(hours=2),
        )
    for number, contact in enumerate((waiting, answered)):
        Inbound.objects.create(
            workspace=workspace,
            contact=contact,
            from_address=contact.phone,
            body=f"reply {number}",
            provider_message_id=f"SMmig{number}",
            in_reply_to=rows[contact.phone],
            received_at=now - timedelta(hours=1),
        )
    Message.objects.create(
        workspace=workspace,
        contact=answered,
        channel="sms",
        to_address=answered.phone,
        body="Thanks!",
        status="sent",
        sent_at=now - timedelta(minutes=30),
    )
    yield {"waiting": waiting.pk, "answered": answered.pk, "silent": silent.pk}
    call_command("migrate", verbosity=0)


def test_replies_get_their_threads_in_time_order(old_rows):
    _migrate(AFTER)
    call_command("migrate", verbosity=0)
    from conversations.models import Conversation

    waiting = Conversation.objects.get(contact_id=old_rows["waiting"])
    assert (waiting.status, waiting.unread, waiting.preview) == ("human", True, "reply 0")
    assert list(waiting.turns.values_list("author", "body")) == [
        ("campaign", "Your visit is Friday"),
        ("contact", "reply 0"),
    ]
    answered = Conversation.objects.get(contact_id=old_rows["answered"])
    assert (answered.status, answered.unread) == ("agent", False)
    assert [t.author for t in answered.turns.all()] == ["campaign", "contact", "agent"]
    assert answered.campaign_id is not None
    assert not Conversation.objects.filter(contact_id=old_rows["silent"]).exists()
