"""Building and posting inbound emails as a mail provider would (real RFC 822 through the
standard library's `email` package, signed as messaging/webhooks.py checks)."""

from __future__ import annotations

import time
from email.message import EmailMessage

from django.test import Client
from django.urls import reverse

from messaging.webhooks import email_signature

SECRET = "whsec-test-0123456789abcdef"


def raw_email(
    *,
    to: str,
    sender: str = "Ann <ann@example.com>",
    subject: str = "Re: Your visit",
    text: str | None = "Thanks, Tuesday works.",
    html: str | None = None,
    message_id: str = "<reply-1@mail.example.com>",
    in_reply_to: str = "",
    headers: dict | None = None,
) -> bytes:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    if to:
        message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message.as_bytes()


def signed_headers(body: bytes, secret: str = SECRET, at: int | None = None) -> dict:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "HTTP_X_HERALD_SIGNATURE": f"t={timestamp},v1={email_signature(secret, timestamp, body)}"
    }


def post_email(workspace, body: bytes, *, signed: bool = True, **extra):
    """POST a raw email to the workspace's inbound email webhook."""
    url = reverse("messaging:email-inbound", args=[workspace.pk])
    headers = signed_headers(body) if signed else {}
    headers.update(extra)
    return Client().post(url, data=body, content_type="message/rfc822", **headers)
