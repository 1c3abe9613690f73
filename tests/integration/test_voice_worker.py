"""AI voice calls end to end (V6): a voice campaign of three contacts through a real Celery
worker on PostgreSQL. The worker fans out and places the calls through the fake Twilio (with a
URL to Herald's voice webhook, since the agent converses); the fake Twilio then plays each call
over HTTP against a live server, signed like Twilio: Ann converses and confirms, Bob asks to
stop, Cy is an answering machine. The model is the fake OpenAI-compatible server."""

import json
import time

import pytest

from campaigns.lifecycle import campaign_launch
from campaigns.models import Campaign
from campaigns.selectors import campaign_results
from campaigns.services import campaign_create
from campaigns.tasks import tick
from contacts.models import Contact, ContactGroup, GroupMembership
from conversations.models import Conversation, VoiceCall
from messaging.models import Message
from tests.campaigns.helpers import make_sender
from tests.conversations.factories import AgentFactory
from tests.factories import ContactFactory
from tests.fakes.fixtures import *  # noqa: F403 (fake Twilio fixtures)
from tests.fakes.llm_fixtures import *  # noqa: F403 (the fake model server)
from tests.fakes.openai import API_KEY, MODEL, decision
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.fakes.twilio_calls import CallPlayer, http_transport

NUMBER = "+14155559999"
PEOPLE = {"Ann": "+14155550101", "Bob": "+14155550102", "Cy": "+14155550103"}


def _wait(predicate, what: str, timeout: float = 90.0, tick_every: float = 0.5):
    """Poll predicate(), enqueueing the beat's tick for the worker as the beat would."""
    deadline = time.monotonic() + timeout
    next_tick = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_tick:
            tick.apply_async(retry=False)
            next_tick = time.monotonic() + tick_every
        if value := predicate():
            return value
        time.sleep(0.1)
    pytest.fail(f"Timed out waiting for {what}")


def _model(body: dict):
    """The agent's decisions, from what the contact last said on the call."""
    transcript = json.loads(body["messages"][-1]["content"].split("\n", 1)[1].rsplit("\n", 1)[0])
    said = [t["text"].lower() for t in transcript if t["from"] == "contact"][-1]
    if "stop" in said:
        return decision("opt_out", "", "asked to stop calling")
    if "3 pm is fine" in said:
        return decision("end", "Perfect, see you Friday at 3 pm. Goodbye!", "confirmed")
    return decision("reply", "Great. Does 3 pm on Friday suit you?")


@pytest.mark.django_db(transaction=True)
def test_voice_campaign_converses_opts_out_and_leaves_voicemail(
    workspace, fake_twilio, fake_llm, live_server, celery_worker, settings
):
    fake_llm.set_default(_model)
    env = {
        "HERALD_VOICE_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        "HERALD_LLM_BASE_URL": fake_llm.base_url,
        "HERALD_LLM_API_KEY": API_KEY,
        "HERALD_LLM_MODEL": MODEL,
        "HERALD_TICK_SECONDS": "0.5",
    }
    celery_worker(env=env)
    agent = AgentFactory(
        workspace=workspace,
        name="Ava",
        instructions="Confirm Friday's visit and agree on a time.",
        opening_message="Hi {{first_name}}, this is {{agent_name}} from the clinic. "
        "Can we confirm your visit on Friday?",
        max_call_seconds=120,
    )
    group = ContactGroup.objects.create(workspace=workspace, name="Patients")
    for name, phone in PEOPLE.items():
        GroupMembership.objects.create(
            group=group, contact=ContactFactory(workspace=workspace, first_name=name, phone=phone)
        )
    sender = make_sender(workspace, channel="voice", address=NUMBER)
    campaign = campaign_create(
        workspace=workspace,
        data={
            "name": "Visit calls",
            "channel": "voice",
            "group": group.pk,
            "sender": sender.pk,
            "agent": agent.pk,
            "message_template": "",
            "timezone": "UTC",
            "window_start_hour": 0,
            "window_end_hour": 24,
        },
    )
    campaign_launch(campaign=campaign)

    _wait(lambda: len(fake_twilio.calls) == 3, "the worker to place three calls")
    calls = {c["to"]: sid for sid, c in fake_twilio.calls.items()}
    (create,) = [r for r in fake_twilio.creates("Calls") if r.param("To") == PEOPLE["Ann"]]
    assert create.param("Url").startswith(f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/voice/")
    assert create.param("MachineDetection") == "DetectMessageEnd"
    assert create.param("TimeLimit") == "120"

    player = CallPlayer(fake_twilio, http_transport(live_server.url))
    ann = player.play(calls[PEOPLE["Ann"]], speech=["Yes, I can talk", "3 pm is fine"])
    bob = player.play(calls[PEOPLE["Bob"]], speech=["Please stop calling me"])
    cy = player.play(calls[PEOPLE["Cy"]], answered_by="machine_end_beep")

    opening = "Hi Ann, this is Ava from the clinic. Can we confirm your visit on Friday?"
    assert ann.said == [
        opening,
        "Great. Does 3 pm on Friday suit you?",
        "Perfect, see you Friday at 3 pm. Goodbye!",
    ]
    assert bob.said[-1] == "Understood. We won't call or message you again. Goodbye."
    assert cy.said == [opening.replace("Ann", "Cy")] and cy.hung_up_by == "agent"
    for played in (ann, bob, cy):
        assert {status for _, status in played.callbacks} == {200}

    _wait(
        lambda: Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED,
        "the campaign to complete",
    )
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        "delivered"
    }
    bob_contact = Contact.objects.get(phone=PEOPLE["Bob"])
    assert (bob_contact.status, bob_contact.opt_out_reason) == ("opted_out", "message")
    endings = dict(VoiceCall.objects.values_list("contact__first_name", "ending"))
    assert endings == {"Ann": "done", "Bob": "opt_out", "Cy": "voicemail"}

    ann_thread = Conversation.objects.get(contact__first_name="Ann")
    assert ann_thread.status == "closed"
    assert [t.body for t in ann_thread.turns.filter(channel="voice").exclude(direction="event")][
        :4
    ] == [opening, "Yes, I can talk", "Great. Does 3 pm on Friday suit you?", "3 pm is fine"]
    assert Conversation.objects.get(contact__first_name="Bob").status == "closed"

    results = campaign_results(campaign=campaign)["calls"]
    assert {k: results[k] for k in ("answered", "voicemail", "no_answer", "busy", "failed")} == {
        "answered": 2,
        "voicemail": 1,
        "no_answer": 0,
        "busy": 0,
        "failed": 0,
    }
    assert results["average_call_seconds"] >= 1 and results["handoffs"] == 0
    assert len(fake_llm.requests) == 3  # Ann twice, Bob once; the machine never
    assert all(PEOPLE["Bob"] not in r.text for r in fake_llm.requests)
