"""/api/v1/conversations and the agents' new fields (V7): lists with filters and keyset pages,
a thread with its messages, a reply, handoff / resume-agent / close, assign; another
workspace's thread is a 404 and changes nothing."""

import pytest

from conversations import threads
from conversations.models import Conversation
from messaging.models import Message
from tests.conversations.factories import AgentFactory
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def conversation(workspace, contact):
    agent = AgentFactory(workspace=workspace)
    conversation = threads.conversation_for(contact=contact, channel="sms", agent=agent)
    threads.turn_append(
        conversation=conversation, direction="in", author="contact", body="<b>hi</b>"
    )
    return conversation


def test_list_filters_and_pages(api_client, workspace, conversation):
    for _ in range(2):
        threads.conversation_for(contact=ContactFactory(workspace=workspace), channel="sms")
    first = api_client.get("/api/v1/conversations?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api_client.get(f"/api/v1/conversations?limit=2&after={first['next_cursor']}").json()
    ids = {c["id"] for c in first["items"] + second["items"]}
    assert len(ids) == 3 and second["next_cursor"] == ""
    unread = api_client.get("/api/v1/conversations?unread=true").json()["items"]
    assert [c["id"] for c in unread] == [conversation.pk]
    assert unread[0]["contact_name"] == "Jane Smith"
    found = api_client.get("/api/v1/conversations?q=smith").json()["items"]
    assert [c["id"] for c in found] == [conversation.pk]
    assert api_client.get("/api/v1/conversations?view=mine").json()["items"] == []


def test_detail_has_the_messages(api_client, conversation):
    body = api_client.get(f"/api/v1/conversations/{conversation.pk}").json()
    assert body["status"] == "agent"
    assert [(m["author"], m["body"]) for m in body["messages"]] == [("contact", "<b>hi</b>")]


def test_reply_queues_a_message(api_client, conversation, contact):
    response = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/reply", {"body": "Hello"}, content_type=JSON
    )
    assert response.status_code == 200
    assert response.json()["messages"][-1]["message_status"] == "queued"
    message = Message.objects.get(status="queued")
    assert (message.to_address, message.body) == (contact.phone, "Hello")
    assert Conversation.objects.get().status == "human"


def test_reply_refused_is_a_400_and_sends_nothing(api_client, conversation):
    response = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/reply", {"body": " "}, content_type=JSON
    )
    assert response.status_code in (400, 422)
    assert "body" in response.json()["errors"]
    assert not Message.objects.exists()


def test_handoff_resume_close(api_client, conversation):
    url = f"/api/v1/conversations/{conversation.pk}"
    handed = api_client.post(f"{url}/handoff", {"reason": "VIP"}, content_type=JSON).json()
    assert (handed["status"], handed["handoff_reason"]) == ("human", "VIP")
    assert api_client.post(f"{url}/resume-agent").json()["status"] == "agent"
    assert api_client.post(f"{url}/close").json()["status"] == "closed"


def test_assign_to_members_only(api_client, conversation, member):
    url = f"/api/v1/conversations/{conversation.pk}/assign"
    assigned = api_client.post(url, {"user_id": member.pk}, content_type=JSON).json()
    assert assigned["assignee_id"] == member.pk
    refused = api_client.post(url, {"user_id": 999999}, content_type=JSON)
    assert refused.status_code in (400, 422)
    assert api_client.post(url, {"user_id": None}, content_type=JSON).json()["assignee_id"] is None


def test_another_workspace_cannot_see_or_touch_a_thread(other_api_client, conversation):
    url = f"/api/v1/conversations/{conversation.pk}"
    assert other_api_client.get(url).status_code == 404
    assert other_api_client.post(f"{url}/close").status_code == 404
    reply = other_api_client.post(f"{url}/reply", {"body": "x"}, content_type=JSON)
    assert reply.status_code == 404
    assert other_api_client.get("/api/v1/conversations").json()["items"] == []
    assert Conversation.objects.get().status == "agent"
    assert not Message.objects.exists()


def test_agent_crud_with_the_model_fields(api_client, other_api_client):
    created = api_client.post(
        "/api/v1/agents",
        {
            "name": "Ava",
            "instructions": "Confirm visits.",
            "knowledge": "Open 9-5.",
            "goal": "Confirm",
            "handoff_rules": "Refunds",
            "max_turns": 4,
            "max_reply_segments": 1,
            "model": "gpt-test",
            "speech_hints": "Acme Dental, root canal",
        },
        content_type=JSON,
    )
    assert created.status_code == 201
    agent = created.json()
    assert agent["speech_hints"] == "Acme Dental\nroot canal"
    assert (agent["knowledge"], agent["max_turns"], agent["model"]) == ("Open 9-5.", 4, "gpt-test")
    url = f"/api/v1/agents/{agent['id']}"
    changed = api_client.patch(url, {"max_turns": 6}, content_type=JSON).json()
    assert (changed["max_turns"], changed["knowledge"]) == (6, "Open 9-5.")
    bad = api_client.patch(url, {"max_reply_segments": 99}, content_type=JSON)
    assert bad.status_code in (400, 422)
    long_hint = api_client.patch(url, {"speech_hints": "y" * 101}, content_type=JSON)
    assert long_hint.status_code in (400, 422)
    assert api_client.get(url).json()["speech_hints"] == "Acme Dental\nroot canal"
    assert other_api_client.get(url).status_code == 404
    assert other_api_client.delete(url).status_code == 404
    assert api_client.get(url).json()["max_reply_segments"] == 1
    assert api_client.delete(url).status_code == 204
    assert api_client.get(url).status_code == 404
