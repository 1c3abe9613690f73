"""Inbound email (issue 15): a signed webhook takes a reply to one of our emails into the
contact's conversation; anything unsigned, unreadable or not ours changes nothing."""

import base64
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import Contact
from conversations.models import Conversation, ConversationMessage
from messaging.email_threading import message_id_for, reply_address
from messaging.models import InboundMessage, Message
from tests.factories import ContactFactory, WorkspaceFactory

from .email_helpers import SECRET, post_email, raw_email, signed_headers
from .factories import MessageFactory, SenderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reply_address(settings):
    settings.HERALD_REPLY_TO_EMAIL = "reply@in.herald.test"
    settings.DEFAULT_FROM_EMAIL = "Herald <herald@herald.test>"


@pytest.fixture
def ws(workspace):
    workspace.inbound_email_secret = SECRET
    workspace.save(update_fields=["inbound_email_secret"])
    return workspace


@pytest.fixture
def ann(ws):
    return ContactFactory(workspace=ws, first_name="Ann", email="ann@example.com")


@pytest.fixture
def sender(ws):
    return SenderFactory(workspace=ws, channel="email", address="news@acme.test", name="Acme")


@pytest.fixture
def campaign_email(ws, ann, sender):
    return MessageFactory(
        workspace=ws,
        contact=ann,
        sender=sender,
        channel="email",
        to_address=ann.email,
        subject="Your visit",
        body="See you on Tuesday?",
        provider_message_id="",
    )


QUOTED = (
    "Thanks, Tuesday works.\n\n"
    "On Tue, 1 Dec 2026 at 10:00, Acme <news@acme.test>\nwrote:\n"
    "> See you on Tuesday?\n> Reply STOP to stop.\n"
)


def _nothing_stored():
    return not InboundMessage.objects.exists() and not ConversationMessage.objects.exists()


def test_reply_to_address_threads_the_reply_without_its_quoted_text(ws, ann, campaign_email):
    to = reply_address(workspace_id=ws.pk, contact_id=ann.pk)
    response = post_email(ws, raw_email(to=to, sender="Ann <ann@other.example>", text=QUOTED))
    assert response.status_code == 200, response.content
    inbound = InboundMessage.objects.get()
    assert (inbound.contact, inbound.channel, inbound.body) == (
        ann,
        "email",
        "Thanks, Tuesday works.",
    )
    assert inbound.in_reply_to == campaign_email and inbound.subject == "Re: Your visit"
    assert inbound.email_message_id == "<reply-1@mail.example.com>"
    campaign_email.refresh_from_db()
    assert campaign_email.replied_at is not None
    conversation = Conversation.objects.get(contact=ann)
    assert conversation.channel == "email" and conversation.unread
    turn = conversation.turns.get(direction="in")
    assert (turn.channel, turn.body) == ("email", "Thanks, Tuesday works.")
    assert "Reply STOP" not in turn.body


def test_in_reply_to_names_the_contact_whatever_the_from_address(ws, ann, campaign_email, sender):
    ContactFactory(workspace=ws, email="someone@else.example")
    our_id = message_id_for(workspace_id=ws.pk, message_id=campaign_email.pk)
    body = raw_email(to=sender.address, sender="someone@else.example", in_reply_to=our_id)
    assert post_email(ws, body).status_code == 200
    assert InboundMessage.objects.get().contact == ann


def test_forged_in_reply_to_falls_back_to_the_from_address(ws, ann, campaign_email, sender):
    bob = ContactFactory(workspace=ws, email="bob@example.com")
    forged = f"<herald.{ws.pk}.{campaign_email.pk}.0123456789abcdef@herald.test>"
    body = raw_email(to=sender.address, sender="bob@example.com", in_reply_to=forged)
    assert post_email(ws, body).status_code == 200
    assert InboundMessage.objects.get().contact == bob


def test_from_address_threads_a_reply_to_a_sender_address(ws, ann, sender):
    body = raw_email(to=f"Acme <{sender.address.upper()}>", sender="ANN@example.com")
    assert post_email(ws, body).status_code == 200
    assert InboundMessage.objects.get().contact == ann


@pytest.mark.parametrize(
    ("text", "subject"),
    [("STOP", "Re: Your visit"), ("Unsubscribe.\n\n> quoted", "Re: x"), ("", "unsubscribe")],
)
def test_stop_words_opt_the_contact_out_and_close_the_thread(ws, ann, sender, text, subject):
    body = raw_email(to=sender.address, text=text, subject=subject)
    assert post_email(ws, body).status_code == 200
    ann.refresh_from_db()
    assert ann.status == Contact.Status.OPTED_OUT and ann.opt_out_reason == "message"
    assert InboundMessage.objects.get().action == InboundMessage.Action.OPT_OUT
    assert Conversation.objects.get(contact=ann).status == Conversation.Status.CLOSED
    assert not Message.objects.filter(channel="email").exists()  # no mail after "stop"


def test_start_opts_back_in_and_help_is_answered_by_email(ws, ann, sender):
    ann.status, ann.opt_out_reason = Contact.Status.OPTED_OUT, "message"
    ann.save()
    post_email(ws, raw_email(to=sender.address, text="start", message_id="<a@x>"))
    ann.refresh_from_db()
    assert ann.status == Contact.Status.ACTIVE
    post_email(ws, raw_email(to=sender.address, text="HELP", message_id="<b@x>"))
    help_reply = Message.objects.get(channel="email")
    assert help_reply.to_address == "ann@example.com" and help_reply.sender == sender
    assert help_reply.subject == "Re: Your visit"


def test_unsigned_or_badly_signed_requests_change_nothing(ws, ann, sender, settings):
    body = raw_email(to=sender.address)
    assert post_email(ws, body, signed=False).status_code == 403
    wrong = signed_headers(body, secret="not-the-secret")
    assert post_email(ws, body, signed=False, **wrong).status_code == 403
    stale = signed_headers(body, at=time.time() - 3600)
    assert post_email(ws, body, signed=False, **stale).status_code == 403
    tampered = signed_headers(body)
    assert post_email(ws, body + b"x", signed=False, **tampered).status_code == 403
    other = WorkspaceFactory(inbound_email_secret="other-secret")
    assert post_email(other, body, signed=False, **signed_headers(body)).status_code == 403
    assert _nothing_stored()


def test_basic_auth_with_the_secret_is_accepted_for_providers_that_cannot_sign(ws, ann, sender):
    body = raw_email(to=sender.address)
    good = "Basic " + base64.b64encode(f"herald:{SECRET}".encode()).decode()
    bad = "Basic " + base64.b64encode(b"herald:guess").decode()
    assert post_email(ws, body, signed=False, HTTP_AUTHORIZATION=bad).status_code == 403
    assert post_email(ws, body, signed=False, HTTP_AUTHORIZATION=good).status_code == 200
    assert InboundMessage.objects.count() == 1


def test_a_workspace_without_a_secret_takes_no_email(workspace):
    SenderFactory(workspace=workspace, channel="email", address="news@acme.test")
    response = post_email(workspace, raw_email(to="news@acme.test"), signed=False)
    assert response.status_code == 404
    url = reverse("messaging:email-inbound", args=[987654])
    assert Client().post(url, data=b"x", content_type="message/rfc822").status_code == 404


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", b"empty"),
        (b"just some words, no headers at all", b"no headers"),
        (raw_email(to="news@acme.test", sender=""), b"no From"),
        (raw_email(to="", sender="ann@example.com"), b"no recipient"),
    ],
)
def test_malformed_email_is_a_clear_400(ws, ann, sender, body, error):
    response = post_email(ws, body)
    assert response.status_code == 400 and error in response.content
    assert _nothing_stored()


def test_unknown_recipient_is_refused_and_nothing_is_written(ws, ann, sender, other_workspace):
    contacts = Contact.objects.count()
    response = post_email(ws, raw_email(to="someone@elsewhere.test"))
    assert response.status_code == 422 and b"Unknown recipient" in response.content
    # Another workspace's genuine reply address is not this workspace's recipient either.
    theirs = ContactFactory(workspace=other_workspace, email="ann@example.com")
    to = reply_address(workspace_id=other_workspace.pk, contact_id=theirs.pk)
    assert post_email(ws, raw_email(to=to, message_id="<2@x>")).status_code == 422
    # A reply address with a forged signature is no reply address.
    forged = f"reply+{ws.pk}.{ann.pk}.0000000000000000@in.herald.test"
    assert post_email(ws, raw_email(to=forged, message_id="<3@x>")).status_code == 422
    assert _nothing_stored() and Contact.objects.count() == contacts + 1


def test_replayed_email_is_stored_once(ws, ann, sender):
    body = raw_email(to=sender.address)
    assert post_email(ws, body).content == b"Stored."
    assert post_email(ws, body).content == b"Already stored."
    assert InboundMessage.objects.count() == 1
    assert ConversationMessage.objects.filter(direction="in").count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
        {"List-Id": "<news.lists.example>"},
    ],
)
def test_automatic_emails_are_dropped_not_answered(ws, ann, sender, headers):
    response = post_email(ws, raw_email(to=sender.address, headers=headers))
    assert response.status_code == 200 and b"automatic" in response.content
    assert _nothing_stored()


def test_email_from_a_stranger_is_acknowledged_and_dropped(ws, sender):
    response = post_email(ws, raw_email(to=sender.address, sender="stranger@example.net"))
    assert response.status_code == 200 and b"not a contact" in response.content
    assert _nothing_stored() and not Contact.objects.exists()


def test_html_only_reply_is_read_as_text_without_the_quoted_block(ws, ann, sender):
    html = (
        "<div dir=ltr>Yes <b>please</b> &amp; thanks<br><script>alert(1)</script></div>"
        '<div class="gmail_quote">On Tue, Acme wrote:<blockquote>See you?</blockquote></div>'
    )
    assert post_email(ws, raw_email(to=sender.address, text=None, html=html)).status_code == 200
    assert InboundMessage.objects.get().body == "Yes please & thanks"


def test_non_utf8_charset_is_decoded(ws, ann, sender):
    body = (
        b"From: ann@example.com\r\nTo: news@acme.test\r\nSubject: =?iso-8859-1?q?R=E9ponse?=\r\n"
        b"Message-ID: <latin@x>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
        b"Tr\xe8s bien, merci.\r\n"
    )
    assert post_email(ws, body).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.subject, inbound.body) == ("Réponse", "Très bien, merci.")


def test_untrusted_text_is_stored_as_text_and_shown_escaped(ws, ann, sender, client_logged_in):
    text = "<img src=x onerror=alert(1)> {{ settings.SECRET_KEY }}"
    post_email(ws, raw_email(to=sender.address, text=text))
    inbound = InboundMessage.objects.get()
    assert inbound.body == text
    conversation = Conversation.objects.get(contact=ann)
    page = client_logged_in.get(
        reverse("conversations:conversation-detail", args=[conversation.pk])
    ).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def _form_post(ws, fields: dict):
    body = urlencode(fields).encode()
    url = reverse("messaging:email-inbound", args=[ws.pk])
    return Client().post(
        url, data=body, content_type="application/x-www-form-urlencoded", **signed_headers(body)
    )


def test_sendgrid_raw_form_field_is_parsed(ws, ann, sender):
    fields = {
        "email": raw_email(to="list@elsewhere.test", text=QUOTED).decode(),
        "envelope": '{"to": ["news@acme.test"], "from": "ann@example.com"}',
    }
    assert _form_post(ws, fields).status_code == 200
    assert InboundMessage.objects.get().body == "Thanks, Tuesday works."


def test_parsed_fields_of_sendgrid_and_mailgun_are_read(ws, ann, sender):
    sendgrid = {
        "headers": "Message-ID: <sg-1@x>\nSubject: Re: Your visit\n",
        "from": "Ann <ann@example.com>",
        "to": "news@acme.test",
        "text": "From SendGrid\n\n-----Original Message-----\nold text",
    }
    mailgun = {
        "sender": "ann@example.com",
        "recipient": "news@acme.test",
        "subject": "Re: Your visit",
        "body-plain": "From Mailgun\n-- \nAnn, sent from my phone",
        "Message-Id": "<mg-1@x>",
    }
    assert _form_post(ws, sendgrid).status_code == 200
    assert _form_post(ws, mailgun).status_code == 200
    bodies = sorted(InboundMessage.objects.values_list("body", flat=True))
    assert bodies == ["From Mailgun", "From SendGrid"]


def test_a_form_without_an_email_is_a_clear_400(ws):
    response = _form_post(ws, {"unrelated": "1"})
    assert response.status_code == 400 and b"Post the raw email" in response.content
    assert _nothing_stored()


def test_too_large_email_is_refused_before_reading(ws, sender, settings):
    settings.HERALD_INBOUND_EMAIL_MAX_BYTES = 1000
    response = post_email(ws, raw_email(to=sender.address, text="x" * 2000))
    assert response.status_code == 413 and _nothing_stored()


def test_round_trip_campaign_email_reply_and_a_persons_answer_by_email(
    ws, ann, campaign_email, fake_smtp, user
):
    """Our email → the contact's mail client answers it (Reply-To, In-Reply-To as sent) → the
    reply joins the thread → a person answers from the inbox → the outbox emails it, threaded."""
    from conversations.threads import conversation_reply
    from messaging.sending import outbox_send

    campaign_email.status, campaign_email.sent_at = Message.Status.QUEUED, None
    campaign_email.save()
    outbox_send(message_ids=[campaign_email.pk])
    sent = fake_smtp.received[-1].message
    assert sent["Reply-To"] == reply_address(workspace_id=ws.pk, contact_id=ann.pk)
    assert len(sent["Message-ID"]) <= 64
    reply = raw_email(
        to=str(sent["Reply-To"]),
        sender="Ann <ann@example.com>",
        subject=f"Re: {sent['Subject']}",
        text=f"Can we make it 3pm?\n\nOn Tue, Acme wrote:\n> {campaign_email.body}\n",
        message_id="<ann-reply-7@mail.example.com>",
        in_reply_to=str(sent["Message-ID"]),
    )
    assert post_email(ws, reply).status_code == 200
    conversation = Conversation.objects.get(contact=ann)
    assert conversation.turns.get(direction="in").body == "Can we make it 3pm?"
    campaign_email.refresh_from_db()
    assert campaign_email.replied_at is not None

    turn = conversation_reply(
        conversation=conversation, user=user, body="3pm it is. <b>See</b> you"
    )
    outbox_send(message_ids=[turn.message_id])
    answer = fake_smtp.received[-1].message
    assert answer["To"] == "ann@example.com" and answer["Subject"] == "Re: Your visit"
    assert answer["In-Reply-To"] == "<ann-reply-7@mail.example.com>"
    assert answer["Reply-To"] == sent["Reply-To"]
    assert "&lt;b&gt;See&lt;/b&gt;" in answer.get_body(("html",)).get_content()


def test_message_id_fits_the_provider_id_column_whatever_the_domain(settings):
    settings.DEFAULT_FROM_EMAIL = "Herald <herald@a-very-long-subdomain.mail.example.com>"
    message_id = message_id_for(workspace_id=123456, message_id=987654321012)
    assert len(message_id) <= 64 and message_id.endswith("@herald.local>")
    settings.DEFAULT_FROM_EMAIL = "herald@acme.io"
    assert message_id_for(workspace_id=1, message_id=2).endswith("@acme.io>")
