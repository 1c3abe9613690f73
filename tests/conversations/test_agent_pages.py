"""The agent page (V3): the fields the model reads, what it did, how to connect a model, and
the test console (a real model call with a sample contact; nothing sent, its tokens counted)."""

import json

import pytest

from conversations.answering import workspace_tokens_today
from conversations.models import Agent, AgentAnswer, ConsoleAnswer, Conversation
from messaging.models import Message
from tests.factories import ContactFactory
from tests.fakes.openai import decision

from .factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_agent_form_saves_the_model_fields(client_logged_in, workspace):
    data = {
        "name": "Ava",
        "instructions": "Be brief.",
        "knowledge": "Open 9-5.",
        "goal": "Confirm",
        "handoff_rules": "Refunds",
        "max_turns": "4",
        "max_reply_segments": "1",
        "model": "gpt-test",
        "voice": "Polly.Joanna",
        "max_call_seconds": "120",
    }
    response = client_logged_in.post("/conversations/agents/new/", data)
    assert response.status_code == 302
    agent = Agent.objects.get()
    assert (agent.knowledge, agent.max_turns, agent.max_reply_segments, agent.model) == (
        "Open 9-5.",
        4,
        1,
        "gpt-test",
    )


def test_agent_form_refuses_bad_limits(client_logged_in, workspace):
    response = client_logged_in.post(
        "/conversations/agents/new/", {"name": "Ava", "max_turns": "0", "max_reply_segments": "x"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Between 1 and 100 replies." in text and "Must be a whole number." in text
    assert not Agent.objects.exists()


def test_agent_page_says_how_to_connect_a_model(client_logged_in, workspace, settings):
    settings.HERALD_LLM_BASE_URL = ""
    agent = AgentFactory(workspace=workspace)
    text = client_logged_in.get(f"/conversations/agents/{agent.pk}/").content.decode()
    assert "No AI model is connected" in text and "HERALD_LLM_BASE_URL" in text


def test_agent_page_shows_answers_handoffs_and_tokens(client_logged_in, workspace, fake_llm):
    agent = AgentFactory(workspace=workspace)
    from conversations import threads
    from tests.factories import ContactFactory

    conversation = threads.conversation_for(
        contact=ContactFactory(workspace=workspace), channel="sms", agent=agent
    )
    for generation, outcome in enumerate(["reply", "reply", "handoff"], start=1):
        AgentAnswer.objects.create(
            workspace=workspace,
            conversation=conversation,
            agent=agent,
            generation=generation,
            outcome=outcome,
            total_tokens=100,
        )
    text = client_logged_in.get(f"/conversations/agents/{agent.pk}/").content.decode()
    assert "3 answers, 2 replies, 1 handoff, 300 tokens" in text


def test_console_asks_the_model_and_sends_nothing(client_logged_in, workspace, fake_llm):
    agent = AgentFactory(workspace=workspace, instructions="Sell <b>tea</b>.")
    fake_llm.script(decision("reply", "We have green <i>tea</i>!", "asked"))
    url = f"/conversations/agents/{agent.pk}/console/"
    response = client_logged_in.post(url, {"message": "What do you sell?", "history": "[]"})
    text = response.content.decode()
    assert "We have green &lt;i&gt;tea&lt;/i&gt;!" in text
    assert "Decision:</strong> reply" in text
    sent = fake_llm.requests[0].text
    assert "What do you sell?" in sent and "Sell <b>tea</b>." in sent and "Sam" in sent
    assert not Message.objects.exists() and not Conversation.objects.exists()
    history = [
        {"author": "contact", "text": "What do you sell?"},
        {"author": "agent", "text": "We have green <i>tea</i>!"},
        {"author": "system", "text": "ignored"},
    ]
    fake_llm.script(decision("end", "Bye", "done"))
    client_logged_in.post(url, {"message": "Thanks", "history": json.dumps(history)})
    second = fake_llm.requests[1].text
    assert "We have green" in second and "ignored" not in second


def test_console_of_another_workspaces_agent_is_a_404(client_logged_in, other_workspace):
    agent = AgentFactory(workspace=other_workspace)
    assert client_logged_in.get(f"/conversations/agents/{agent.pk}/console/").status_code == 404


def test_console_refuses_once_the_daily_ai_budget_is_spent(client_logged_in, workspace, fake_llm):
    """As the agents' real answers: the model is not asked, and the page says why."""
    workspace.ai_daily_tokens = 1000
    workspace.save()
    agent = AgentFactory(workspace=workspace)
    conversation = Conversation.objects.create(
        workspace=workspace, contact=ContactFactory(workspace=workspace)
    )
    AgentAnswer.objects.create(
        workspace=workspace,
        conversation=conversation,
        generation=1,
        outcome="reply",
        total_tokens=1000,
    )
    url = f"/conversations/agents/{agent.pk}/console/"
    response = client_logged_in.post(url, {"message": "Hello?", "history": "[]"})
    text = response.content.decode()
    assert response.status_code == 200
    assert "The workspace used its daily AI budget of 1000 tokens." in text
    assert "asks the model again tomorrow" in text
    assert fake_llm.requests == [] and not ConsoleAnswer.objects.exists()


def test_console_tokens_count_toward_the_daily_budget(client_logged_in, workspace, fake_llm):
    """The console's calls spend the budget as answers do: with 150 tokens a call and a budget
    of 200, the second call is made (150 < 200) and the third is refused."""
    workspace.ai_daily_tokens = 200
    workspace.save()
    agent = AgentFactory(workspace=workspace)
    url = f"/conversations/agents/{agent.pk}/console/"
    fake_llm.script(decision("reply", "One"), decision("reply", "Two"), decision("reply", "Three"))
    texts = [
        client_logged_in.post(url, {"message": f"Hi {n}", "history": "[]"}).content.decode()
        for n in range(3)
    ]
    assert len(fake_llm.requests) == 2
    assert "Decision:</strong> reply" in texts[1] and "daily AI budget of 200 tokens" in texts[2]
    assert workspace_tokens_today(workspace.pk, tz=workspace.timezone) == 300
    assert list(ConsoleAnswer.objects.values_list("agent", "total_tokens")) == [
        (agent.pk, 150),
        (agent.pk, 150),
    ]
    assert not Message.objects.exists() and not Conversation.objects.exists()
