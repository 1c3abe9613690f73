"""The inbox pages (V2): the list and its filters, a thread, a person's reply and actions;
everything a contact or a model wrote is escaped; another workspace's thread is a 404."""

import pytest

from conversations import threads
from conversations.models import Conversation
from messaging.models import Message
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db
XSS = '<script>alert("x")</script>'


@pytest.fixture
def conversation(thread):
    thread.contact.first_name = XSS
    thread.contact.metadata = {"note": XSS}
    thread.contact.save()
    conversation = threads.conversation_for(
        contact=thread.contact,
        channel="sms",
        agent=thread.agent,
        campaign=thread.campaign,
        sender=thread.sender,
    )
    threads.turn_append(conversation=conversation, direction="in", author="contact", body=XSS)
    threads.turn_append(
        conversation=conversation, direction="out", author="agent", body="<b>model</b> said"
    )
    threads.conversation_handoff(conversation=conversation, reason=f"Because {XSS}")
    return conversation


def test_inbox_lists_threads_needing_a_person_escaped(client_logged_in, conversation):
    response = client_logged_in.get("/conversations/")
    assert response.status_code == 200
    body = response.content.decode()
    assert XSS not in body
    assert "&lt;script&gt;" in body
    assert f"/conversations/{conversation.pk}/" in body
    assert 'class="inbox-item unread"' in body
    assert 'title="1 needs a person"' in body  # the sidebar badge


def test_inbox_filters_and_htmx_fragment(client_logged_in, conversation, workspace):
    other = threads.conversation_for(contact=ContactFactory(workspace=workspace), channel="sms")
    assert other.status == "agent"
    page = client_logged_in.get("/conversations/?view=agent")
    assert f"/conversations/{other.pk}/" in page.content.decode()
    assert f"/conversations/{conversation.pk}/" not in page.content.decode()
    fragment = client_logged_in.get(
        "/conversations/?view=human&q=4155550123",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="inbox-list",
    )
    text = fragment.content.decode()
    assert text.lstrip().startswith('<div id="inbox-list"')
    assert f"/conversations/{conversation.pk}/" in text
    none = client_logged_in.get("/conversations/?view=human&q=nobody-like-this")
    assert f"/conversations/{conversation.pk}/" not in none.content.decode()


def test_inbox_pages_by_keyset(client_logged_in, workspace, user):
    for _ in range(3):
        threads.conversation_for(contact=ContactFactory(workspace=workspace), channel="sms")
    from conversations.selectors import InboxFilters, conversation_list

    filters = InboxFilters(view="all")
    first = conversation_list(workspace=workspace, filters=filters, user=user, limit=2)
    second = conversation_list(
        workspace=workspace, filters=filters, user=user, limit=2, cursor=first.next_cursor
    )
    ids = [c.pk for c in first.conversations + second.conversations]
    assert len(set(ids)) == 3 and second.next_cursor == ""
    response = client_logged_in.get("/conversations/?view=all&after=garbage~x")
    assert response.status_code == 200


def test_thread_page_escapes_and_marks_read(client_logged_in, conversation):
    response = client_logged_in.get(f"/conversations/{conversation.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert XSS not in body and "<b>model</b>" not in body
    assert "&lt;b&gt;model&lt;/b&gt; said" in body
    conversation.refresh_from_db()
    assert conversation.unread is False
    fragment = client_logged_in.get(
        f"/conversations/{conversation.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread"
    )
    assert fragment.content.decode().lstrip().startswith('<div id="thread"')


def test_reply_from_the_inbox_is_queued(client_logged_in, conversation, thread, user):
    response = client_logged_in.post(
        f"/conversations/{conversation.pk}/reply/", {"body": "Hello from Bea"}
    )
    assert response.status_code == 302
    message = Message.objects.get(status="queued")
    assert (message.to_address, message.body) == (thread.contact.phone, "Hello from Bea")
    conversation.refresh_from_db()
    assert conversation.assignee == user


def test_an_empty_reply_over_htmx_shows_the_error(client_logged_in, conversation):
    response = client_logged_in.post(
        f"/conversations/{conversation.pk}/reply/",
        {"body": "  "},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="reply-form",
    )
    assert response.status_code == 200
    assert "Write the reply." in response.content.decode()
    assert not Message.objects.filter(status="queued").exists()


def test_counter_counts_segments(client_logged_in, conversation):
    response = client_logged_in.post(
        f"/conversations/{conversation.pk}/counter/", {"body": "x" * 161}
    )
    assert "161 characters · GSM-7 · 2 segments" in response.content.decode()


def test_take_over_hand_back_close_reopen(client_logged_in, conversation, user):
    url = f"/conversations/{conversation.pk}"
    client_logged_in.post(f"{url}/hand-back/")
    conversation.refresh_from_db()
    assert conversation.status == "agent"
    client_logged_in.post(f"{url}/take-over/")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == ("human", user)
    client_logged_in.post(f"{url}/close/")
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    client_logged_in.post(f"{url}/reopen/")
    conversation.refresh_from_db()
    assert conversation.status == "agent"
    assert client_logged_in.post(f"{url}/explode/").status_code == 404


def test_assign_to_a_member_only(client_logged_in, conversation, member):
    url = f"/conversations/{conversation.pk}/assign/"
    client_logged_in.post(url, {"assignee": member.pk})
    conversation.refresh_from_db()
    assert conversation.assignee == member
    stranger = UserFactory()
    client_logged_in.post(url, {"assignee": stranger.pk})
    conversation.refresh_from_db()
    assert conversation.assignee == member


def test_actions_need_post_and_csrf(conversation, user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    url = f"/conversations/{conversation.pk}"
    assert strict.get(f"{url}/close/").status_code == 405
    assert strict.post(f"{url}/close/").status_code == 403
    assert strict.post(f"{url}/reply/", {"body": "x"}).status_code == 403
    conversation.refresh_from_db()
    assert conversation.status == "human"
    assert not Message.objects.filter(status="queued").exists()


def test_another_workspaces_thread_is_a_404(conversation, other_workspace):
    from django.test import Client

    from tests.factories import MembershipFactory

    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider, workspace=other_workspace)
    client = Client()
    client.force_login(outsider)
    url = f"/conversations/{conversation.pk}"
    assert client.get(f"{url}/").status_code == 404
    assert client.post(f"{url}/reply/", {"body": "hi"}).status_code == 404
    assert client.post(f"{url}/close/").status_code == 404
    assert client.post(f"{url}/assign/", {"assignee": ""}).status_code == 404
    listing = client.get("/conversations/?view=all")
    assert f"/conversations/{conversation.pk}/" not in listing.content.decode()
    assert Conversation.objects.get(pk=conversation.pk).status == "human"
    assert not Message.objects.filter(status="queued").exists()
