"""Email over SMTP through Django's email framework (M1, M6).

Multipart text + HTML, an unsubscribe link in the footer of both parts, and the
`List-Unsubscribe` / `List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers (RFC 8058).
Our own Message-ID is the provider id; it and the Reply-To address (HERALD_REPLY_TO_EMAIL) are
signed so that a reply finds its way back to the contact's thread (messaging/email_threading).
"""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import escape, linebreaks

from messaging.email_threading import message_id_for, reply_address
from messaging.models import InboundMessage
from messaging.unsubscribe import TEST_CONTACT_ID, unsubscribe_url

from . import Backend, PermanentError, ReconcileResult, RetryableError, SendResult, UnknownOutcome

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def _from_address(message) -> str:
    sender = message.sender if message.sender_id else None
    if sender is None:
        return settings.DEFAULT_FROM_EMAIL
    return f"{sender.name} <{sender.address}>" if sender.name else sender.address


def email_build(message) -> EmailMultiAlternatives:
    """The email for a Message: its text, its HTML (or the text as HTML), footer and headers."""
    contact_id = message.contact_id or (TEST_CONTACT_ID if message.is_test else None)
    link = (
        unsubscribe_url(workspace_id=message.workspace_id, contact_id=contact_id)
        if contact_id is not None
        else ""
    )
    text, html = email_parts(body=message.body, html_body=message.html_body, link=link)
    headers = {
        "Message-ID": message_id_for(workspace_id=message.workspace_id, message_id=message.pk)
    }
    if link:
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers.update(_thread_headers(message))
    reply_to = (
        reply_address(workspace_id=message.workspace_id, contact_id=message.contact_id)
        if message.contact_id
        else ""
    )
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=text,
        from_email=_from_address(message),
        to=[message.to_address],
        headers=headers,
        reply_to=[reply_to] if reply_to else None,
    )
    email.attach_alternative(html, "text/html")
    return email


def _thread_headers(message) -> dict:
    """A reply (an agent's or a person's: no campaign) names the contact's last email, so
    their mail client shows it in the same thread."""
    if message.campaign_id or not message.contact_id:
        return {}
    last = (
        InboundMessage.objects.filter(
            workspace_id=message.workspace_id, contact_id=message.contact_id, channel="email"
        )
        .exclude(email_message_id="")
        .order_by("-received_at", "-id")
        .values_list("email_message_id", flat=True)
        .first()
    )
    return {"In-Reply-To": last, "References": last} if last else {}


def email_parts(*, body: str, html_body: str, link: str) -> tuple[str, str]:
    """The text and the HTML document of an email as recipients get them: the HTML body (or
    the text as HTML) and, with an unsubscribe link, the footer in both. The builder's
    preview shows the same document."""
    text = body
    html = html_body or linebreaks(escape(body))
    if link:
        text += f"\n\n--\nUnsubscribe: {link}"
        html += (
            '<hr><p style="font-size:12px;color:#666">'
            f'<a href="{escape(link)}">Unsubscribe</a> from these emails.</p>'
        )
    return text, f"<!doctype html><html><body>{html}</body></html>"


class EmailBackend(Backend):
    name = "email"

    def send(self, message) -> SendResult:
        email = email_build(message)
        connection = get_connection(SMTP_BACKEND, fail_silently=False)
        try:
            connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"Recipient refused: {exc.recipients}", code="smtp_550") from exc
        except smtplib.SMTPResponseException as exc:
            code = f"smtp_{exc.smtp_code}"
            if 400 <= exc.smtp_code < 500:
                raise RetryableError(
                    f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", code=code
                ) from exc
            raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", code=code) from exc
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            # The server may have taken the message before the line dropped.
            raise UnknownOutcome(f"SMTP connection lost: {exc}", code="smtp_lost") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"SMTP unavailable: {exc}", code="smtp_unavailable") from exc
        return SendResult(provider_message_id=email.extra_headers["Message-ID"], status="sent")

    def reconcile(self, message) -> ReconcileResult:
        # SMTP has no way to ask whether a message was taken; sending twice is worse than
        # once too few for a campaign email, so an unknown email is recorded as failed.
        return ReconcileResult(status="failed", error="SMTP outcome unknown; not re-sent.")
