"""Inbound email (issue 15): a contact's reply to one of our emails joins their conversation.

Routing, within the workspace whose signed webhook received it (never another):
1. a recipient that is the contact's signed reply address (Reply-To, messaging/email_threading);
2. else a recipient that is one of the workspace's email senders, and then the contact is the
   one our message named in In-Reply-To / References (a signed Message-ID), else the contact
   whose email is the From address.
A recipient that is neither is refused ("unknown recipient"); an email from nobody we know, or
an automatic one (out-of-office, bounce, list), is acknowledged and dropped, since answering
machines start loops and replying to strangers is how spam gets in.

Keywords as for SMS, on the reply's new text (or, when it has none, its subject, as a mailto
unsubscribe sends it): STOP / UNSUBSCRIBE / … opt the contact out (no confirmation email: they
asked for no more mail), START opts them back in, HELP is answered through the outbox. Then the
`inbound` hook hands it to conversations, which answers as for a text message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Workspace
from contacts.models import Contact
from contacts.services import contact_opt_in, contact_opt_out

from . import hooks
from .email_threading import message_ids_parse, reply_address_parse, subject_bare
from .keywords import Keyword, keyword_classify
from .mailparse import InboundEmail
from .models import InboundMessage, Message, Sender
from .outbox import message_enqueue

logger = logging.getLogger("herald.webhooks")

_ACTIONS = {
    Keyword.OPT_OUT: InboundMessage.Action.OPT_OUT,
    Keyword.OPT_IN: InboundMessage.Action.OPT_IN,
    Keyword.HELP: InboundMessage.Action.HELP,
}


class UnknownRecipient(Exception):
    """No recipient of the email is this workspace's: nothing was stored."""


@dataclass(frozen=True)
class EmailResult:
    inbound: InboundMessage | None
    outcome: str  # stored, duplicate, automatic, unknown_sender


@dataclass(frozen=True)
class _Route:
    contact: Contact | None
    to_address: str
    sender: Sender | None
    answered: Message | None


def inbound_email_receive(*, workspace: Workspace, mail: InboundEmail) -> EmailResult:
    """Store one inbound email of `workspace` and apply its keyword, all or nothing; then tell
    the apps above. Raises UnknownRecipient before writing anything."""
    route = _route(workspace, mail)
    if mail.automatic:
        logger.info(
            "Inbound email %s is automatic (auto-reply, bounce, list): dropped", mail.message_id
        )
        return EmailResult(inbound=None, outcome="automatic")
    if route.contact is None:
        logger.info(
            "Inbound email from %r: no contact of workspace %s", mail.from_address, workspace.pk
        )
        return EmailResult(inbound=None, outcome="unknown_sender")
    if InboundMessage.objects.filter(provider_message_id=mail.dedupe_key).exists():
        return EmailResult(inbound=None, outcome="duplicate")
    try:
        with transaction.atomic():
            inbound = _store(workspace, mail, route)
    except IntegrityError:  # the same email stored by a concurrent retry
        return EmailResult(inbound=None, outcome="duplicate")
    hooks.fire("inbound", inbound=inbound)
    return EmailResult(inbound=inbound, outcome="stored")


def _route(workspace: Workspace, mail: InboundEmail) -> _Route:
    contacts = Contact.objects.for_workspace(workspace)
    for address in mail.recipients:
        if (token := reply_address_parse(address)) is None or token[0] != workspace.pk:
            continue
        contact = contacts.filter(pk=token[1]).first()
        answered = _answered(workspace, mail, contact)
        sender = answered.sender if answered is not None else None
        return _Route(contact, address, sender, answered)
    senders = {
        s.address.lower(): s
        for s in Sender.objects.for_workspace(workspace).filter(channel=Sender.Channel.EMAIL)
    }
    address = next((a for a in mail.recipients if a in senders), None)
    if address is None:
        raise UnknownRecipient(
            "None of the recipients (" + ", ".join(mail.recipients)[:300] + ") is a reply "
            "address or an email sender of this workspace."
        )
    answered = _answered(workspace, mail, None)
    contact = answered.contact if answered is not None and answered.contact_id else None
    if contact is None:
        contact = contacts.filter(email=mail.from_address.lower()).order_by("id").first()
    return _Route(contact, address, senders[address], answered)


def _answered(workspace: Workspace, mail: InboundEmail, contact: Contact | None):
    """The newest of our emails the reply names (In-Reply-To / References), else the last one
    sent to the contact."""
    ids = [m for w, m in message_ids_parse(mail.references) if w == workspace.pk]
    named = Message.objects.for_workspace(workspace).filter(pk__in=ids, channel="email")
    if contact is not None:
        named = named.filter(contact=contact)
    if (found := named.order_by("-id").first()) is not None or contact is None:
        return found
    return (
        Message.objects.for_workspace(workspace)
        .filter(contact=contact, channel="email", sent_at__isnull=False)
        .order_by("-sent_at", "-id")
        .first()
    )


def _store(workspace: Workspace, mail: InboundEmail, route: _Route) -> InboundMessage:
    now = timezone.now()
    keyword = (
        keyword_classify(mail.text) if mail.text else keyword_classify(subject_bare(mail.subject))
    )
    last = route.answered
    inbound = InboundMessage.objects.create(
        workspace=workspace,
        contact=route.contact,
        sender=route.sender,
        channel=Sender.Channel.EMAIL,
        from_address=mail.from_address,
        to_address=route.to_address[:254],
        subject=mail.subject,
        body=mail.text,
        provider_message_id=mail.dedupe_key,
        email_message_id=mail.message_id if len(mail.message_id) <= 255 else "",
        in_reply_to=last,
        response_seconds=(
            max(int((now - last.sent_at).total_seconds()), 0) if last and last.sent_at else None
        ),
        action=_ACTIONS.get(keyword, InboundMessage.Action.NONE),
        received_at=now,
    )
    if last is not None:
        Message.objects.filter(pk=last.pk, replied_at__isnull=True).update(replied_at=now)
    _apply_keyword(inbound, keyword)
    return inbound


def _apply_keyword(inbound: InboundMessage, keyword: Keyword | None) -> None:
    contact = inbound.contact
    if keyword == Keyword.OPT_OUT:
        contact_opt_out(contact=contact, reason="message", detail="Replied STOP by email")
    elif keyword == Keyword.OPT_IN:
        contact_opt_in(contact=contact, detail="Replied START by email")
    elif keyword == Keyword.HELP:
        message_enqueue(
            workspace=inbound.workspace,
            contact=contact,
            channel=Sender.Channel.EMAIL,
            to_address=contact.email or inbound.from_address,
            subject=f"Re: {subject_bare(inbound.subject) or 'Help'}"[:255],
            body=settings.HERALD_HELP_REPLY,
            sender=inbound.sender,
        )
