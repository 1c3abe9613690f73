"""What happens to a contact's message (V1, V4): it joins their conversation, keywords answer
first, and what is left waits for the agent's model or a person.

Order, for each stored inbound message (messaging has already applied STOP/START/HELP):
1. the turn joins the contact's conversation (with the campaign message it answers);
2. STOP closes the thread, START and HELP are noted: none of them reaches a model;
3. the agent's keyword rules (or HERALD_RESPONDER) answer through the outbox;
4. otherwise a thread handled by its agent goes to the model (conversations.answering): when
   there is no agent or no model configured, it waits for a person (`human`).
"""

from __future__ import annotations

import logging

from messaging.models import InboundMessage
from messaging.outbox import message_enqueue

from . import threads
from .models import Conversation, ConversationMessage
from .responders import get_responder, inbound_agent

logger = logging.getLogger("herald.conversations")

Status = Conversation.Status
Author = ConversationMessage.Author
Direction = ConversationMessage.Direction
Action = InboundMessage.Action


def inbound_handle(*, inbound: InboundMessage) -> Conversation | None:
    """Record one inbound message in its thread and answer it (or queue the answer)."""
    contact = inbound.contact
    if contact is None:
        return None
    answered = inbound.in_reply_to
    campaign_id = answered.campaign_id if answered is not None else None
    channel = inbound.channel or "sms"
    conversation = threads.conversation_for(
        contact=contact,
        channel=channel,
        agent=inbound_agent(inbound),
        campaign_id=campaign_id,
        sender=inbound.sender,
        at=inbound.received_at,
    )
    if campaign_id is not None:
        threads.turn_append(
            conversation=conversation,
            direction=Direction.OUTBOUND,
            author=Author.CAMPAIGN,
            body=answered.body,
            channel=answered.channel,
            message=answered,
            at=answered.sent_at or answered.created_at,
        )
    threads.turn_append(
        conversation=conversation,
        direction=Direction.INBOUND,
        author=Author.CONTACT,
        body=inbound.body,
        channel=channel,
        inbound=inbound,
        at=inbound.received_at,
    )
    verb = "replied" if channel == "email" else "texted"
    if inbound.action == Action.OPT_OUT:
        threads.conversation_close(
            conversation=conversation, reason=f"The contact opted out ({verb} a STOP keyword)."
        )
    elif inbound.action == Action.OPT_IN:
        threads.turn_append(
            conversation=conversation,
            direction=Direction.EVENT,
            author=Author.SYSTEM,
            body=f"The contact opted back in ({verb} START).",
        )
    elif inbound.action == Action.HELP:
        threads.turn_append(
            conversation=conversation,
            direction=Direction.EVENT,
            author=Author.SYSTEM,
            body="Herald answered the HELP keyword with the help text.",
        )
    elif inbound.action == Action.NONE:
        _answer(conversation, inbound)
    return conversation


def _answer(conversation: Conversation, inbound: InboundMessage) -> None:
    if conversation.status == Status.CLOSED:
        threads.conversation_reopen(
            conversation=conversation, reason="Reopened: the contact wrote again."
        )
    if _rule_reply(conversation, inbound):
        return
    if conversation.status != Status.AGENT:
        return  # a person handles it: the thread is unread until they look
    from .answering import answer_schedule  # the model's side, kept out of the webhook path

    answer_schedule(conversation=conversation)


def _rule_reply(conversation: Conversation, inbound: InboundMessage) -> bool:
    """The agent's keyword rules (or the configured responder) answer, if one matches."""
    try:
        text = get_responder().reply(inbound)
    except Exception:
        logger.exception("Responder failed on inbound message %s", inbound.pk)
        return False
    if not text:
        return False
    email = inbound.channel == "email"
    message = message_enqueue(
        workspace=inbound.workspace,
        contact=inbound.contact,
        channel=inbound.channel or "sms",
        to_address=inbound.from_address,
        body=text,
        subject=threads.reply_subject(conversation) if email else "",
        sender=inbound.sender,
    )
    threads.turn_append(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        author=Author.AGENT,
        body=text,
        channel=inbound.channel or "sms",
        message=message,
        new_row=True,
    )
    InboundMessage.objects.filter(pk=inbound.pk).update(action=Action.AGENT_REPLY)
    return True
