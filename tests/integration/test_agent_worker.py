"""The agent answers through a real Celery worker on PostgreSQL and Redis (V4): campaign →
reply → the worker asks the fake model → the answer leaves through the fake Twilio → signed
status → a second reply → handoff → a person answers from the inbox. And a task delivered
twice to two workers sends one answer."""

import time
from urllib.parse import urlsplit

import pytest
from amqp.exceptions import ChannelError

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.services import campaign_create
from contacts.models import ContactGroup, GroupMembership
from conversations import threads
from conversations.models import AgentAnswer, Conversation
from conversations.tasks import agent_answer
from messaging.models import Message
from tests.campaigns.helpers import make_sender
from tests.conversations.factories import AgentFactory
from tests.factories import ContactFactory
from tests.fakes.fixtures import *  # noqa: F403 (fake Twilio fixtures)
from tests.fakes.llm_fixtures import *  # noqa: F403 (the fake model server)
from tests.fakes.openai import API_KEY, MODEL, decision
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.messaging.helpers import inbound_params, signed_post, status_params

NUMBER = "+14155559999"
PHONE = "+14155550101"


def _wait(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    pytest.fail(f"Timed out waiting for {what}")


@pytest.fixture
def setup(workspace, fake_twilio, fake_llm, settings, celery_worker):
    settings.HERALD_AGENT_DEBOUNCE_SECONDS = 0.5
    env = {
        "HERALD_LLM_BASE_URL": fake_llm.base_url,
        "HERALD_LLM_API_KEY": API_KEY,
        "HERALD_LLM_MODEL": MODEL,
        "HERALD_LLM_TIMEOUT_SECONDS": "10",
        # The worker sends the agent's reply itself, at once: through the fake Twilio.
        "HERALD_SMS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_TIMEOUT_SECONDS": "5",
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
    }
    agent = AgentFactory(workspace=workspace, instructions="Confirm Friday's visit.")
    contact = ContactFactory(workspace=workspace, first_name="Ann", phone=PHONE)
    group = ContactGroup.objects.create(workspace=workspace, name="Patients")
    GroupMembership.objects.create(group=group, contact=contact)
    sender = make_sender(workspace, address=NUMBER)
    campaign = campaign_create(
        workspace=workspace,
        data={
            "name": "Visits",
            "channel": "sms",
            "group": group.pk,
            "sender": sender.pk,
            "message_template": "Hi {{first_name}}, your visit is Friday. Reply to confirm.",
            "timezone": "UTC",
            "window_start_hour": 0,
            "window_end_hour": 24,
        },
    )
    campaign.agent = agent
    campaign.save(update_fields=["agent"])
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    return {"env": env, "contact": contact, "campaign": campaign, "worker": celery_worker}


def _deliver_all(client, fake_twilio):
    for sid, resource in fake_twilio.messages.items():
        callback = urlsplit(resource["_status_callback"])
        response = signed_post(
            client, f"{callback.path}?{callback.query}", status_params(sid, "delivered")
        )
        assert response.status_code == 200


def _reply(client, body, sid):
    params = inbound_params(sid, body=body, from_=PHONE, to=NUMBER)
    assert signed_post(client, "/webhooks/twilio/inbound", params).status_code == 200


def _texts_to_ann(fake_twilio):
    return [r.param("Body") for r in fake_twilio.creates("Messages") if r.param("To") == PHONE]


@pytest.mark.django_db(transaction=True)
def test_campaign_reply_agent_answer_handoff_and_a_person(
    client, setup, fake_twilio, fake_llm, user
):
    setup["worker"](env=setup["env"])
    _deliver_all(client, fake_twilio)
    fake_llm.script(
        decision("reply", "Great, see you Friday, Ann!"),
        decision("handoff", "A colleague will call you.", "Asks about a refund"),
    )
    _reply(client, "Yes, Friday works", "SM" + "a" * 32)
    _wait(
        lambda: "Great, see you Friday, Ann!" in _texts_to_ann(fake_twilio),
        "the answer at the fake Twilio, sent by the worker without a tick",
    )
    _deliver_all(client, fake_twilio)
    conversation = Conversation.objects.get()
    assert conversation.status == "agent"

    _reply(client, "Also, can I get a refund for last time?", "SM" + "b" * 32)
    _wait(
        lambda: "A colleague will call you." in _texts_to_ann(fake_twilio),
        "the handoff's reply at the fake Twilio",
    )
    _wait(lambda: Conversation.objects.filter(status="human").exists(), "the handoff")
    conversation.refresh_from_db()
    assert conversation.handoff_reason == "Asks about a refund"
    threads.conversation_reply(conversation=conversation, user=user, body="Hi Ann, it's Bea.")
    engine.tick(send_inline=True)
    assert _texts_to_ann(fake_twilio)[-2:] == ["A colleague will call you.", "Hi Ann, it's Bea."]
    assert len(fake_llm.requests) == 2
    second = fake_llm.requests[1].text
    assert "Great, see you Friday, Ann!" in second and "refund" in second
    answers = AgentAnswer.objects.order_by("id")
    assert [a.outcome for a in answers] == ["reply", "handoff"]
    assert all(a.total_tokens == 150 for a in answers)
    assert [t.author for t in conversation.turns.exclude(direction="event")] == [
        "campaign",
        "contact",
        "agent",
        "contact",
        "agent",
        "staff",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_to_two_workers_sends_one_answer(
    client, setup, fake_twilio, fake_llm, settings
):
    settings.HERALD_AGENT_DEBOUNCE_SECONDS = 30  # the webhook's own task waits: we send ours
    setup["worker"](env=setup["env"])
    setup["worker"](env=setup["env"])
    fake_llm.set_default(lambda body: decision("reply", "Only once", delay=0.5))
    _reply(client, "Hello?", "SM" + "c" * 32)
    conversation = Conversation.objects.get()
    for _ in range(4):
        agent_answer.delay(conversation.pk, conversation.generation)
    _wait(lambda: AgentAnswer.objects.exists(), "an answer")
    _wait(_workers_idle, "the workers to finish every copy of the task")
    assert Message.objects.filter(body="Only once").count() == 1
    assert AgentAnswer.objects.count() == 1


def _workers_idle() -> bool:
    """No task waits in the broker and no worker holds one."""
    from config.celery import app

    with app.connection_for_write() as connection:
        try:
            channel = connection.default_channel
            waiting = channel.queue_declare("celery", passive=True).message_count
        except ChannelError:  # Redis: an empty queue is no queue
            waiting = 0
    inspect = app.control.inspect(timeout=1.0)
    busy = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
    return waiting == 0 and not any(busy)
