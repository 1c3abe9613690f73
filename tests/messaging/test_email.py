"""Email through a real SMTP server (aiosmtpd), and the unsubscribe link it carries."""

import re

import pytest
from django.utils import timezone

from messaging.models import Message
from messaging.sending import outbox_send
from messaging.unsubscribe import unsubscribe_token
from tests.factories import ContactFactory

from .factories import MessageFactory, SenderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def email_message(workspace):
    contact = ContactFactory(workspace=workspace, first_name="<b>Ann</b>", email="ann@example.com")
    sender = SenderFactory(
        workspace=workspace, channel="email", address="news@acme.test", name="Acme News"
    )
    return MessageFactory(
        workspace=workspace,
        contact=contact,
        sender=sender,
        channel="email",
        to_address="ann@example.com",
        subject="Your visit",
        body="Hi <b>Ann</b>, see you soon.",
        html_body="<p>Hi &lt;b&gt;Ann&lt;/b&gt;, see you soon.</p>",
        status=Message.Status.QUEUED,
        attempts=0,
        provider_message_id="",
        sent_at=None,
        send_after=timezone.now(),
    )


def _unsubscribe_path(text: str) -> str:
    return re.search(r"https://herald\.example\.com(/unsubscribe/[^/\s\"<>]+/)", text).group(1)


def test_email_sent_multipart_with_unsubscribe_headers(fake_smtp, email_message):
    counts = outbox_send(message_ids=[email_message.pk])
    assert counts == {"sent": 1}
    (received,) = fake_smtp.received
    mail = received.message
    assert received.rcpt_tos == ["ann@example.com"]
    assert mail["From"] == "Acme News <news@acme.test>"
    assert mail["Subject"] == "Your visit"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert link.startswith("https://herald.example.com/unsubscribe/")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hi <b>Ann</b>" in text and link in text
    assert "Hi &lt;b&gt;Ann&lt;/b&gt;" in html and "<b>Ann</b>" not in html
    assert f'href="{link}"' in html
    email_message.refresh_from_db()
    assert email_message.provider_message_id == mail["Message-ID"]


def test_email_without_html_body_escapes_text_in_html_part(fake_smtp, email_message):
    Message.objects.filter(pk=email_message.pk).update(html_body="")
    outbox_send(message_ids=[email_message.pk])
    html = fake_smtp.received[0].message.get_body(("html",)).get_content()
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html


def test_email_smtp_down_is_retried(settings, email_message):
    settings.HERALD_EMAIL_BACKEND = "smtp"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    counts = outbox_send(message_ids=[email_message.pk])
    email_message.refresh_from_db()
    assert counts == {"failed": 1}  # no campaign: no retries allowed
    assert email_message.error_code == "smtp_unavailable"


def test_unsubscribe_link_confirm_page_then_opt_out(client, fake_smtp, email_message):
    outbox_send(message_ids=[email_message.pk])
    path = _unsubscribe_path(fake_smtp.received[0].message["List-Unsubscribe"])
    page = client.get(path)
    assert page.status_code == 200
    assert b"Stop sending campaign emails" in page.content
    email_message.contact.refresh_from_db()
    assert email_message.contact.status == "active"  # a GET (link preview) changes nothing
    done = client.post(path)
    assert done.status_code == 200
    email_message.contact.refresh_from_db()
    assert email_message.contact.opt_out_reason == "unsubscribed"
    assert email_message.contact.events.filter(kind="opted_out", reason="unsubscribed").exists()


def test_unsubscribe_one_click_post_without_csrf(email_message):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    token = unsubscribe_token(
        workspace_id=email_message.workspace_id, contact_id=email_message.contact_id
    )
    response = client.post(f"/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    email_message.contact.refresh_from_db()
    assert email_message.contact.opt_out_reason == "unsubscribed"


def test_unsubscribe_tampered_token_is_400_and_changes_nothing(client, email_message):
    token = unsubscribe_token(
        workspace_id=email_message.workspace_id, contact_id=email_message.contact_id
    )
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for response in (
        client.get(f"/unsubscribe/{tampered}/"),
        client.post(f"/unsubscribe/{tampered}/"),
    ):
        assert response.status_code == 400
    email_message.contact.refresh_from_db()
    assert email_message.contact.status == "active"


def test_unsubscribe_token_for_other_workspace_contact_is_400(
    client, email_message, other_workspace
):
    token = unsubscribe_token(workspace_id=other_workspace.pk, contact_id=email_message.contact_id)
    assert client.get(f"/unsubscribe/{token}/").status_code == 400
