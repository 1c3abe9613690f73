"""What one reply costs the database: the inbound webhook (store, thread, keyword rules, the
answer queued) and the agent's answer (guards, context, the action). Pinned so that a
repeated lookup or a needless refresh shows up here. Savepoints count: the test runs in a
transaction, where each atomic block is a SAVEPOINT and a RELEASE (in production the
outermost ones are BEGIN and COMMIT, which a query capture does not see).

Before the cuts: 34 queries for a contact's first reply, 26 for the next, 21 per answer."""

import pytest
from django.db import connection

from conversations.answering import conversation_answer
from conversations.models import Conversation
from messaging.models import InboundMessage, Message
from tests.fakes.openai import decision
from tests.messaging.email_helpers import post_email, raw_email

from .test_email_replies import mail_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _bump() -> int:
    """The burst's new generation: one UPDATE … RETURNING on PostgreSQL, else UPDATE + read."""
    return 1 if connection.vendor == "postgresql" else 2


def _answer(conversation, generation):
    return conversation_answer(conversation_id=conversation.pk, generation=generation)


def test_queries_of_an_inbound_reply_and_an_answer(
    client,
    thread,
    fake_llm,
    queued,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    fake_llm.script(decision("reply", "Yes, Friday."), decision("reply", "At 10."))
    with (
        django_assert_max_num_queries(22 + _bump()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        thread.reply(client, "Is it Friday?")
    conversation = Conversation.objects.get()
    assert (conversation.generation, conversation.status) == (1, "agent")
    assert conversation.waiting_since is not None and conversation.unread
    with django_assert_max_num_queries(14):
        answer = _answer(conversation, 1)
    assert answer.outcome == "reply"
    with (
        django_assert_max_num_queries(15 + _bump()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        thread.reply(client, "And the time?")
    with django_assert_max_num_queries(14):
        _answer(conversation, 2)
    conversation.refresh_from_db()
    assert (conversation.agent_replies, conversation.waiting_since) == (2, None)
    assert conversation.preview == "At 10." and queued == [
        (conversation.pk, 1),
        (conversation.pk, 2),
    ]
    assert list(conversation.turns.values_list("author", flat=True)) == [
        "campaign",
        "contact",
        "agent",
        "contact",
        "agent",
    ]
    assert Message.objects.filter(status="queued").count() == 2


def test_a_replayed_inbound_changes_nothing(
    client, thread, queued, django_capture_on_commit_callbacks
):
    """The replay's insert fails on the unique sid (no lookup before it): nothing changes."""
    with django_capture_on_commit_callbacks(execute=True):
        thread.reply(client, "Is it Friday?", sid="SM" + "a" * 32)
    conversation = Conversation.objects.get()
    before = (conversation.generation, conversation.turns.count(), InboundMessage.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        thread.reply(client, "Is it Friday?", sid="SM" + "a" * 32)
    conversation.refresh_from_db()
    after = (conversation.generation, conversation.turns.count(), InboundMessage.objects.count())
    assert after == before == (1, 2, 1)
    assert queued == [(conversation.pk, 1)]


def test_queries_of_an_inbound_email(
    mail_thread,  # noqa: F811 (the fixture, imported)
    queued,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    """The email webhook shares the thread's side with SMS (25 and 18 queries when pinned)."""
    to = mail_thread["to"]
    with (
        django_assert_max_num_queries(24 + _bump()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert (
            post_email(mail_thread["ws"], raw_email(to=to, text="Which room?")).status_code == 200
        )
    body = raw_email(to=to, text="And parking?", message_id="<reply-2@mail.example.com>")
    with (
        django_assert_max_num_queries(17 + _bump()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert post_email(mail_thread["ws"], body).status_code == 200
    conversation = Conversation.objects.get(contact=mail_thread["ann"])
    assert conversation.generation == 2 and queued == [(conversation.pk, 1), (conversation.pk, 2)]
    assert list(conversation.turns.values_list("author", flat=True)) == [
        "campaign",
        "contact",
        "contact",
    ]
