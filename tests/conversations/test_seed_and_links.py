"""`make run`'s demo conversations (one needs a person), and the contact page's link."""

import pytest
from django.core.management import call_command

from accounts.models import Workspace
from conversations import threads
from conversations.models import Conversation
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_seed_conversations_is_idempotent(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo")
    call_command("seed_conversations")
    workspace = Workspace.objects.get(slug="demo")
    statuses = sorted(
        Conversation.objects.for_workspace(workspace).values_list("status", flat=True)
    )
    assert statuses == ["agent", "closed", "human"]
    human = Conversation.objects.get(status="human")
    assert human.unread and human.handoff_reason and human.turns.filter(author="contact").exists()
    call_command("seed_conversations")
    assert Conversation.objects.count() == 3
    assert "already present" in capsys.readouterr().out


def test_seeded_agent_replies_show_on_the_conversation_page(settings, tmp_path, client):
    """The demo's agent wrote twice in its thread: the page said "Agent replies 0", since it
    showed the model-answer counter that only the model path moves."""
    settings.VAR_DIR = tmp_path
    call_command("seed_demo")
    call_command("seed_conversations")
    workspace = Workspace.objects.get(slug="demo")
    client.force_login(workspace.memberships.get().user)
    for conversation in Conversation.objects.for_workspace(workspace):
        said = conversation.turns.filter(author="agent", direction="out").count()
        assert said >= 1 and conversation.agent_replies == said
        page = client.get(f"/conversations/{conversation.pk}/").content.decode()
        assert f"<dt>Agent replies</dt><dd>{said}" in page


def test_contact_page_links_to_the_conversation(client_logged_in, workspace):
    contact = ContactFactory(workspace=workspace)
    page = client_logged_in.get(f"/contacts/{contact.pk}/").content.decode()
    assert "/conversations/" not in page.split("<main")[1].split("</h1>")[1][:2000]
    conversation = threads.conversation_for(contact=contact, channel="sms")
    threads.conversation_handoff(conversation=conversation, reason="x")
    page = client_logged_in.get(f"/contacts/{contact.pk}/").content.decode()
    assert f'href="/conversations/{conversation.pk}/">Conversation (needs a person)' in page


def test_campaign_results_count_its_conversations_and_handoffs(client_logged_in, thread):
    from campaigns.selectors import campaign_results

    conversation = threads.conversation_for(
        contact=thread.contact, channel="sms", campaign=thread.campaign, agent=thread.agent
    )
    threads.conversation_handoff(conversation=conversation, reason="refund")
    threads.conversation_resume_agent(conversation=conversation)
    threads.conversation_handoff(conversation=conversation, reason="again")
    results = campaign_results(campaign=thread.campaign)
    assert (results["conversations"], results["handoffs"], results["needs_human"]) == (1, 2, 1)
    page = client_logged_in.get(f"/campaigns/{thread.campaign.pk}/").content.decode()
    assert "1 conversation</a>, 2 handoffs to a person (1 waiting)" in page
