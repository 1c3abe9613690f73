"""Conversations (V1): replies join the contact's thread, keywords and rules answer first, the
rest waits for the agent's model or a person; a person's writes (reply, take over, hand back,
close, assign) move the thread and leave an event."""

import pytest
from django.core.exceptions import ValidationError

from contacts.services import contact_opt_out
from conversations import threads
from conversations.models import AgentRule, Conversation, ConversationMessage
from messaging.models import InboundMessage, Message
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db
S = Conversation.Status


def _turns(conversation):
    return list(
        ConversationMessage.objects.filter(conversation=conversation).values_list(
            "author", "direction", "body"
        )
    )


def test_reply_joins_the_contacts_thread_with_the_campaign_message(client, thread, queued):
    thread.reply(client, "Can we make it 11?")
    conversation = Conversation.objects.get()
    assert (conversation.contact, conversation.agent, conversation.campaign) == (
        thread.contact,
        thread.agent,
        thread.campaign,
    )
    assert (conversation.channel, conversation.sender, conversation.unread) == (
        "sms",
        thread.sender,
        True,
    )
    assert _turns(conversation) == [
        ("campaign", "out", thread.campaign_message.body),
        ("contact", "in", "Can we make it 11?"),
    ]
    turn = conversation.turns.get(direction="in")
    assert turn.inbound == InboundMessage.objects.get()
    assert conversation.preview == "Can we make it 11?"
    assert conversation.last_activity_at == turn.created_at


def test_second_reply_is_the_same_thread_and_the_campaign_message_is_not_doubled(
    client, thread, queued
):
    thread.reply(client, "Hello?")
    thread.reply(client, "Anyone?")
    conversation = Conversation.objects.get()
    assert [t[2] for t in _turns(conversation)] == [
        thread.campaign_message.body,
        "Hello?",
        "Anyone?",
    ]


def test_without_a_model_an_unmatched_reply_waits_for_a_person(client, thread, settings):
    settings.HERALD_LLM_BASE_URL = ""
    thread.reply(client, "What time again?")
    conversation = Conversation.objects.get()
    assert conversation.status == S.HUMAN
    assert "No AI model is connected" in conversation.handoff_reason
    assert conversation.handoffs == 1
    assert not Message.objects.filter(status="queued").exists()
    assert conversation.turns.filter(direction="event", body__startswith="Handed").exists()


def test_without_an_agent_a_reply_waits_for_a_person(client, workspace, queued):
    from tests.messaging.factories import SenderFactory

    from .helpers import NUMBER, Thread

    SenderFactory(workspace=workspace, address=NUMBER)
    Thread.reply(None, client, "Who is this?", from_="+14155550777")
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.agent) == (S.HUMAN, None)
    assert conversation.handoff_reason == "No agent answers this conversation."
    assert queued == []


def test_stop_closes_the_thread_and_never_reaches_the_agent(client, thread, queued):
    thread.reply(client, "STOP")
    conversation = Conversation.objects.get()
    assert conversation.status == S.CLOSED
    assert queued == []
    assert _turns(conversation)[-1] == (
        "system",
        "event",
        "The contact opted out (texted a STOP keyword).",
    )


def test_a_keyword_rule_answers_before_the_model(client, thread, queued):
    AgentRule.objects.create(
        workspace=thread.workspace, agent=thread.agent, keyword="CONFIRM", reply="See you!"
    )
    thread.reply(client, "Confirm")
    conversation = Conversation.objects.get()
    reply = Message.objects.get(status="queued")
    assert _turns(conversation)[-1] == ("agent", "out", "See you!")
    assert conversation.turns.get(author="agent").message == reply
    assert (conversation.status, queued) == (S.AGENT, [])


def test_an_agent_thread_queues_one_answer_per_message(
    client, thread, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        thread.reply(client, "Hi")
        thread.reply(client, "Is it Friday?")
    conversation = Conversation.objects.get()
    assert queued == [(conversation.pk, 1), (conversation.pk, 2)]
    assert conversation.waiting_since is not None


def test_a_closed_thread_reopens_when_the_contact_writes_again(client, thread, settings):
    settings.HERALD_LLM_BASE_URL = ""
    thread.reply(client, "Hello")
    conversation = Conversation.objects.get()
    threads.conversation_close(conversation=conversation)
    thread.reply(client, "Me again")
    conversation.refresh_from_db()
    assert conversation.status == S.HUMAN  # reopened with its agent, which has no model
    assert conversation.turns.filter(body="Reopened: the contact wrote again.").exists()


def test_turn_append_links_a_message_once(thread):
    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    kwargs = dict(direction="out", author="campaign", body="x", message=thread.campaign_message)
    first = threads.turn_append(conversation=conversation, **kwargs)
    again = threads.turn_append(conversation=conversation, **kwargs)
    assert first == again
    assert ConversationMessage.objects.count() == 1


def test_turn_append_refuses_an_unknown_author(thread):
    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    with pytest.raises(ValueError):
        threads.turn_append(conversation=conversation, direction="in", author="bot", body="x")
    assert ConversationMessage.objects.count() == 0


def test_turns_append_moves_the_thread_as_turn_append_each_would(thread):
    from datetime import timedelta

    from django.utils import timezone

    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    later = timezone.now() + timedelta(minutes=5)
    Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=later, unread=False)
    heard, said = later - timedelta(minutes=2), later - timedelta(minutes=1)
    words = [("in", "contact", "Yes,\n  Friday", heard), ("out", "agent", "See you then", said)]
    threads.turns_append(conversation=conversation, channel="voice", turns=words)
    conversation.refresh_from_db()
    assert _turns(conversation) == [
        ("contact", "in", "Yes,\n  Friday"),
        ("agent", "out", "See you then"),
    ]
    assert set(conversation.turns.values_list("channel", flat=True)) == {"voice"}
    assert conversation.preview == "See you then" and conversation.unread
    assert conversation.last_inbound_at == heard
    assert conversation.last_activity_at == later  # never moved back
    newest = later + timedelta(minutes=1)
    threads.turns_append(
        conversation=conversation, channel="voice", turns=[("in", "contact", "Bye", newest)]
    )
    conversation.refresh_from_db()
    assert conversation.last_activity_at == newest and conversation.preview == "Bye"
    with pytest.raises(ValueError):
        threads.turns_append(
            conversation=conversation, channel="voice", turns=[("in", "bot", "x", newest)]
        )
    assert conversation.turns.count() == 3  # nothing of the refused batch


def test_conversation_for_is_one_per_contact_and_takes_the_newest_channel(thread):
    first = threads.conversation_for(contact=thread.contact, channel="sms")
    call = threads.conversation_for(contact=thread.contact, channel="voice", agent=thread.agent)
    mail = threads.conversation_for(contact=thread.contact, channel="email")
    assert first.pk == call.pk == mail.pk
    assert (call.channel, mail.channel, mail.agent) == ("sms", "email", thread.agent)


def test_a_person_reply_is_queued_to_the_contact_and_takes_the_thread_over(thread, user):
    conversation = threads.conversation_for(
        contact=thread.contact, channel="sms", sender=thread.sender
    )
    turn = threads.conversation_reply(conversation=conversation, user=user, body="On my way")
    message = Message.objects.get(status="queued")
    assert (message.to_address, message.body, message.sender) == (
        thread.contact.phone,
        "On my way",
        thread.sender,
    )
    assert (turn.author, turn.user, turn.message) == ("staff", user, message)
    assert (conversation.status, conversation.assignee, conversation.unread) == (
        S.HUMAN,
        user,
        False,
    )


def test_a_person_reply_by_email_has_a_subject(thread, user):
    thread.contact.email = "ann@example.com"
    thread.contact.save()
    conversation = threads.conversation_for(contact=thread.contact, channel="email")
    threads.conversation_reply(conversation=conversation, user=user, body="Hello")
    message = Message.objects.get(status="queued")
    assert (message.channel, message.to_address, message.subject) == (
        "email",
        "ann@example.com",
        "Re: your message",
    )


@pytest.mark.parametrize("body", ["", "   ", "x" * 1601])
def test_a_person_reply_must_have_a_sensible_length(thread, user, body):
    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    with pytest.raises(ValidationError):
        threads.conversation_reply(conversation=conversation, user=user, body=body)
    assert not Message.objects.filter(status="queued").exists()
    assert not conversation.turns.exists()


def test_no_reply_to_an_opted_out_contact(thread, user):
    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    contact_opt_out(contact=thread.contact, reason="message")
    with pytest.raises(ValidationError, match="opted out"):
        threads.conversation_reply(conversation=conversation, user=user, body="Hi")
    assert not Message.objects.filter(status="queued").exists()


def test_take_over_then_hand_back_to_the_agent(thread, user):
    conversation = threads.conversation_for(
        contact=thread.contact, channel="sms", agent=thread.agent
    )
    threads.conversation_take_over(conversation=conversation, user=user)
    assert (conversation.status, conversation.assignee) == (S.HUMAN, user)
    threads.conversation_resume_agent(conversation=conversation, user=user)
    assert (conversation.status, conversation.handoff_reason) == (S.AGENT, "")
    assert [t[2] for t in _turns(conversation)] == [
        "owner took over from the agent.",
        "owner handed the conversation back to the agent.",
    ]


def test_hand_back_needs_an_agent(thread, user):
    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    threads.conversation_take_over(conversation=conversation, user=user)
    with pytest.raises(ValidationError):
        threads.conversation_resume_agent(conversation=conversation, user=user)
    assert conversation.status == S.HUMAN


def test_assign_only_to_a_member_of_the_workspace(thread, user, member):
    conversation = threads.conversation_for(contact=thread.contact, channel="sms")
    threads.conversation_assign(conversation=conversation, assignee=member, user=user)
    assert conversation.assignee == member
    with pytest.raises(ValidationError):
        threads.conversation_assign(conversation=conversation, assignee=UserFactory(), user=user)
    conversation.refresh_from_db()
    assert conversation.assignee == member


def test_close_and_reopen(thread, user):
    conversation = threads.conversation_for(
        contact=thread.contact, channel="sms", agent=thread.agent
    )
    assert threads.conversation_close(conversation=conversation, user=user)
    assert not threads.conversation_close(conversation=conversation, user=user)
    assert threads.conversation_reopen(conversation=conversation, user=user)
    assert conversation.status == S.AGENT


def test_conversations_of_two_workspaces_stay_apart(thread, other_workspace):
    other = ContactFactory(workspace=other_workspace, phone=thread.contact.phone)
    mine = threads.conversation_for(contact=thread.contact, channel="sms")
    theirs = threads.conversation_for(contact=other, channel="sms")
    assert mine.pk != theirs.pk
    assert list(Conversation.objects.for_workspace(thread.workspace)) == [mine]
