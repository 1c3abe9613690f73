"""A voice campaign's calls, after the fact (V6): its results (page, API), each recipient's
call and transcript in the CSV, the call in the contact's activity, and the builder's plan."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.selectors import campaign_results
from conversations.voice_selectors import call_results
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.conversations.factories import AgentFactory
from tests.fakes import openai as fake
from tests.fakes.llm_fixtures import *  # noqa: F403
from tests.fakes.twilio_calls import CallPlayer, django_transport

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(workspace):
    return AgentFactory(
        workspace=workspace,
        name="Ava",
        instructions="Confirm the visit.",
        opening_message="Hi {{first_name}}, this is {{agent_name}}. Is Friday still good?",
        max_call_seconds=300,
    )


def _launch(workspace, agent, n):
    group = make_group(workspace, n)
    make_sender(workspace, channel="voice", address="+14155559999")
    campaign = make_campaign(
        workspace,
        group,
        channel="voice",
        message_template="",
        agent=agent,
        sender=workspace.senders.get(channel="voice"),
        max_retries=0,
    )
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    return campaign


def _sids(campaign):
    return {
        m.contact.first_name: m.provider_message_id
        for m in Message.objects.filter(campaign=campaign).select_related("contact")
    }


def test_results_count_each_way_a_call_went(
    fake_twilio, fake_llm, workspace, agent, client_logged_in, api_key
):
    fake_llm.script(
        fake.decision("reply", "Great. <b>Anything</b> else?"),
        fake.decision("handoff", "", "asks about the price"),
    )
    campaign = _launch(workspace, agent, 5)
    sids = _sids(campaign)
    player = CallPlayer(fake_twilio, django_transport(Client()))
    talk = player.play(sids["Ann0"], speech=["Yes <script>alert(1)</script>", "How much is it?"])
    assert talk.said[0] == "Hi Ann0, this is Ava. Is Friday still good?"
    player.play(sids["Ann1"], answered_by="machine_end_beep")
    player.play(sids["Ann2"], outcome="busy")
    player.play(sids["Ann3"], outcome="no-answer")
    player.play(sids["Ann4"], outcome="failed")

    calls = call_results(campaign_id=campaign.pk)
    assert calls == {
        "answered": 1,
        "voicemail": 1,
        "no_answer": 1,
        "busy": 1,
        "failed": 1,
        "average_call_seconds": calls["average_call_seconds"],
        "average_call_length": calls["average_call_length"],
        "handoffs": 1,
    }
    assert calls["average_call_seconds"] >= 1 and calls["average_call_length"].endswith("s")
    assert campaign_results(campaign=campaign)["calls"] == calls

    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}").get(
        f"/api/v1/campaigns/{campaign.pk}/results"
    )
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="campaign-calls"' in html and "Voicemail" in html and "Handed to a person" in html

    response = client_logged_in.get(reverse("campaigns:campaign-csv", args=[campaign.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_name = {row["first_name"]: row for row in rows}
    ann = by_name["Ann0"]
    assert (ann["call_outcome"], ann["call_ending"], ann["handoff"]) == (
        "answered",
        "handoff",
        "yes",
    )
    assert ann["transcript"].splitlines() == [
        "Ava: Hi Ann0, this is Ava. Is Friday still good?",
        "Contact (92%): Yes <script>alert(1)</script>",
        "Ava: Great. <b>Anything</b> else?",
        "Contact (92%): How much is it?",
        "Ava: Thank you. Someone from our team will call you back. Goodbye.",
    ]
    assert by_name["Ann1"]["call_outcome"] == "voicemail"
    assert by_name["Ann2"]["call_outcome"] == "" and by_name["Ann2"]["error_code"] == "busy"
    assert api.status_code == 200, api.content
    assert api.json()["calls"]["voicemail"] == 1 and api.json()["calls"]["handoffs"] == 1


def test_sms_results_have_no_calls(workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    assert "calls" not in campaign_results(campaign=campaign)


def test_the_call_and_its_transcript_are_in_the_contacts_activity(
    fake_twilio, fake_llm, workspace, agent, client_logged_in, api_key
):
    fake_llm.script(fake.decision("end", "See you <Friday>!"))
    campaign = _launch(workspace, agent, 1)
    message = Message.objects.get(campaign=campaign)
    CallPlayer(fake_twilio, django_transport(Client())).play(
        message.provider_message_id, speech=["<img src=x onerror=alert(1)> yes"]
    )
    page = client_logged_in.get(reverse("contacts:contact-detail", args=[message.contact_id]))
    html = page.content.decode()
    assert "Call conversation" in html and "Agent ended the call" in html
    assert "&lt;img src=x onerror=alert(1)&gt; yes" in html and "<img src=x" not in html
    assert "See you &lt;Friday&gt;!" in html

    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}").get(
        f"/api/v1/campaigns/contacts/{message.contact_id}/activity"
    )
    (item,) = [a for a in api.json()["activity"] if a["type"] == "call_conversation"]
    assert item["channel"] == "voice" and item["status"] == "answered"
    assert "Contact (92%): <img src=x onerror=alert(1)> yes" in item["message"]


def test_builder_says_how_the_call_goes(workspace, agent, client_logged_in, settings):
    group = make_group(workspace, 2)
    campaign = make_campaign(workspace, group, channel="voice", message_template="", agent=agent)
    review = reverse("campaigns:campaign-build", args=[campaign.pk, "review"])
    settings.HERALD_LLM_BASE_URL, settings.HERALD_LLM_MODEL = "", ""
    html = client_logged_in.get(review).content.decode()
    assert "no model is connected, so Ava cannot converse" in html
    assert "Hi Ann0, this is Ava. Is Friday still good?" in html  # the agent's opening
    assert "What real contacts hear first" in html

    settings.HERALD_LLM_BASE_URL, settings.HERALD_LLM_MODEL = "http://127.0.0.1:9/v1", "m"
    for step in ("message", "review"):
        url = reverse("campaigns:campaign-build", args=[campaign.pk, step])
        html = client_logged_in.get(url).content.decode()
        assert "Ava holds a conversation." in html and "Confirm the visit." in html
        assert "before 5m 00s" in html


def test_deleting_a_voice_campaign_takes_its_calls_and_keeps_the_thread(
    fake_twilio, fake_llm, workspace, agent
):
    from campaigns.lifecycle import campaign_delete
    from conversations.models import Conversation, VoiceCall, VoiceTurn

    fake_llm.script(fake.decision("end", "Bye!"))
    campaign = _launch(workspace, agent, 1)
    message = Message.objects.get(campaign=campaign)
    CallPlayer(fake_twilio, django_transport(Client())).play(
        message.provider_message_id, speech=["Yes"]
    )
    campaign.refresh_from_db()
    campaign_delete(campaign=campaign)
    assert not VoiceCall.objects.exists() and not VoiceTurn.objects.exists()
    thread = Conversation.objects.get(contact_id=message.contact_id)
    assert [t.body for t in thread.turns.filter(author="contact")] == ["Yes"]
