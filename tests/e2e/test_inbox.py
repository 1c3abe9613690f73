"""The inbox in Chromium (V2): list, thread, a person's reply with the segment counter,
hand back to the agent, take over, and a new reply appearing without a reload."""

import os

import pytest
from playwright.sync_api import expect

from conversations import threads
from conversations.models import Conversation
from messaging.models import Message
from tests.conversations.helpers import Thread
from tests.fakes.llm_fixtures import fake_llm  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e
XSS = "<img src=x onerror=alert(1)> when?"


def test_inbox_thread_reply_hand_back_take_over(logged_in_page):
    page = logged_in_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    setup = Thread(page.workspace)
    conversation = threads.conversation_for(
        contact=setup.contact, channel="sms", agent=setup.agent, sender=setup.sender
    )
    threads.turn_append(
        conversation=conversation,
        direction="out",
        author="campaign",
        body=setup.campaign_message.body,
        message=setup.campaign_message,
    )
    threads.turn_append(conversation=conversation, direction="in", author="contact", body=XSS)
    threads.conversation_handoff(conversation=conversation, reason="Asks for a new time")

    page.goto(f"{page.base_url}/conversations/")
    expect(page.locator(".nav-count")).to_have_text("1")
    item = page.locator(".inbox-item.unread")
    expect(item).to_contain_text("Ann Lee")
    expect(item).to_contain_text(XSS)
    _shots(page, "inbox")
    item.locator("a").click()

    expect(page.locator("h1")).to_contain_text("Needs a human")
    expect(page.locator(".turn-contact .bubble")).to_have_text(XSS)
    expect(page.locator(".handoff-reason")).to_have_text("Asks for a new time")
    page.get_by_label("Message").fill("x" * 161)
    expect(page.locator("#reply-counter")).to_contain_text("161 characters · GSM-7 · 2 segments")
    page.get_by_label("Message").fill("Friday 14:00 works, Ann.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".turn-staff .bubble")).to_have_text("Friday 14:00 works, Ann.")
    assert Message.objects.get(body="Friday 14:00 works, Ann.").to_address == setup.contact.phone
    _shots(page, "thread")

    page.get_by_role("button", name="Hand back to Ava").click()
    expect(page.locator("h1")).to_contain_text("Agent handling")
    page.get_by_role("button", name="Take over").click()
    expect(page.locator("h1")).to_contain_text("Needs a human")
    assert Conversation.objects.get().status == "human"

    threads.turn_append(
        conversation=conversation, direction="in", author="contact", body="Great, thanks!"
    )
    expect(page.locator(".turn-contact .bubble").last).to_have_text(
        "Great, thanks!", timeout=15_000
    )
    assert dialogs == []


def _shots(page, name):
    folder = os.environ.get("HERALD_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 860})
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})


def test_agent_test_console_chats_with_the_model(logged_in_page, fake_llm):  # noqa: F811
    from tests.conversations.factories import AgentFactory
    from tests.fakes.openai import decision

    page = logged_in_page
    agent = AgentFactory(workspace=page.workspace, name="Ava", instructions="Sell tea.")
    fake_llm.script(decision("reply", "We have <b>green</b> tea!", "asked about products"))
    page.goto(f"{page.base_url}/conversations/agents/{agent.pk}/")
    page.get_by_role("link", name="Test console").click()
    page.get_by_label("Message as the contact").fill("What do you sell?")
    page.get_by_role("button", name="Send to the agent").click()
    expect(page.locator(".turn-agent .bubble")).to_have_text("We have <b>green</b> tea!")
    expect(page.locator(".console-decision")).to_contain_text("reply — asked about products")
    assert "What do you sell?" in fake_llm.requests[0].text
    assert not Message.objects.exists()
