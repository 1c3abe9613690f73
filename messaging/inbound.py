"""Inbound SMS (M5, C13): route to the workspace owning the number, store, link, act on keywords.

Opt-out policy (documented in README): STOP and its synonyms opt the contact out with reason
`message`; START/YES/UNSTOP opts them back in whatever the earlier reason was, including a
manual opt-out from the dashboard: the contact's own explicit request is the newest consent.
Nothing else (a re-import, an API update) lifts an opt-out.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact, GroupMembership
from contacts.services import contact_create, contact_opt_in, contact_opt_out

from . import hooks
from .keywords import START_REPLY, STOP_REPLY, Keyword, keyword_classify
from .models import InboundMessage, Message, Sender

logger = logging.getLogger("herald.webhooks")

_ACTIONS = {
    Keyword.OPT_OUT: InboundMessage.Action.OPT_OUT,
    Keyword.OPT_IN: InboundMessage.Action.OPT_IN,
    Keyword.HELP: InboundMessage.Action.HELP,
}


@dataclass(frozen=True)
class InboundResult:
    inbound: InboundMessage | None
    reply: str | None = None
    duplicate: bool = False


def sender_for_number(address: str, *, lock: bool = False) -> Sender | None:
    """The sender of the one workspace that holds this number's claim; SMS before voice.
    `lock`: in a transaction, its senders' rows stay locked until it ends (not the workspace's)."""
    senders = Sender.objects.filter(
        claim__number=address, channel__in=["sms", "voice"]
    ).select_related("workspace")
    if lock:
        senders = senders.select_for_update(of=("self",))
    return min(senders, key=lambda s: (s.channel != "sms", s.pk), default=None)


def _contact_for(sender: Sender, phone: str) -> Contact | None:
    contact = Contact.objects.for_workspace(sender.workspace).filter(phone=phone).order_by("id")
    found = contact.first()
    if found is not None:
        return found
    try:
        return contact_create(
            workspace=sender.workspace, data={"phone": phone}, source=GroupMembership.Source.INBOUND
        )
    except ValidationError:
        logger.info("Inbound from %r: not a phone number we can store as a contact", phone)
        return None


def inbound_receive(
    *, to_address: str, from_address: str, body: str, sid: str, opt_out_type: str = ""
) -> InboundResult:
    """Store one inbound SMS, apply its keyword once, then tell the apps above (the `inbound`
    hook, which answers it); a replayed sid changes nothing (its insert fails on the unique
    sid and everything the transaction did is undone)."""
    try:
        with transaction.atomic():
            # One inbound at a time per receiving number: two first messages from the same
            # unknown number must not create two contacts. Found and locked in one query.
            sender = sender_for_number(to_address, lock=True)
            if sender is None:
                logger.warning(
                    "Inbound %s to %s: no workspace owns this number; ignored", sid, to_address
                )
                return InboundResult(inbound=None)
            result = _receive(sender, from_address, body, sid, opt_out_type)
    except IntegrityError:  # the same sid stored before (a replay) or by a concurrent retry
        return InboundResult(inbound=None, duplicate=True)
    if result.inbound is not None:
        hooks.fire("inbound", inbound=result.inbound)
    return result


def _receive(sender, from_address, body, sid, opt_out_type) -> InboundResult:
    now = timezone.now()
    contact = _contact_for(sender, from_address)
    keyword = keyword_classify(body, opt_out_type)
    last = None
    if contact is not None:
        last = (
            Message.objects.for_workspace(sender.workspace)
            .filter(contact=contact, channel__in=["sms", "voice"], sent_at__isnull=False)
            .order_by("-sent_at", "-id")
            .first()
        )
    inbound = InboundMessage.objects.create(
        workspace=sender.workspace,
        contact=contact,
        sender=sender,
        from_address=from_address[:254],
        to_address=sender.address,
        body=body,
        provider_message_id=sid,
        in_reply_to=last,
        response_seconds=max(int((now - last.sent_at).total_seconds()), 0) if last else None,
        action=_ACTIONS.get(keyword, InboundMessage.Action.NONE),
        received_at=now,
    )
    if last is not None:
        Message.objects.filter(pk=last.pk, replied_at__isnull=True).update(replied_at=now)
    return InboundResult(inbound=inbound, reply=_apply_keyword(sender, keyword, from_address))


def _apply_keyword(sender: Sender, keyword: Keyword | None, phone: str) -> str | None:
    """Opt every contact with this number in or out; the reply to send back, if any."""
    if keyword is None:
        return None
    if keyword == Keyword.HELP:
        return settings.HERALD_HELP_REPLY
    contacts = Contact.objects.for_workspace(sender.workspace).filter(phone=phone)
    for contact in contacts:
        if keyword == Keyword.OPT_OUT:
            contact_opt_out(contact=contact, reason="message", detail=f"Texted STOP to {sender}")
        else:
            contact_opt_in(contact=contact, detail=f"Texted START to {sender}")
    return STOP_REPLY if keyword == Keyword.OPT_OUT else START_REPLY
