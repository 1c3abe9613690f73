"""Conversation writes (V1, V2): find a contact's thread, append its turns, move its state.

Every other app (and the voice calls) writes threads through these functions:

* `conversation_for(contact=, channel=, …)`: the contact's conversation, created once
  (unique per workspace and contact, safe against a concurrent create).
* `turn_append(conversation=, direction=, author=, body=, …)`: one turn, linked to messaging's
  outbound or inbound row when there is one (appending the same row twice returns the first
  turn); it moves the thread's last activity, preview and unread flag.
* state: `conversation_handoff`, `conversation_take_over`, `conversation_resume_agent`,
  `conversation_close`, `conversation_reopen`, `conversation_assign`, `conversation_mark_read`,
  and `conversation_reply` (a person's reply, sent through the outbox at once).

Each state change leaves an event turn, so the thread tells who did what and when.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Membership
from contacts.models import Contact
from messaging.email_threading import subject_reply
from messaging.models import InboundMessage, Message
from messaging.outbox import message_enqueue

from .models import Agent, Conversation, ConversationMessage

Status = Conversation.Status
Direction = ConversationMessage.Direction
Author = ConversationMessage.Author
REPLY_CHANNELS = ("sms", "email")
MAX_REPLY_CHARS = 1600  # ten SMS segments; an email reply may be longer
MAX_EMAIL_REPLY_CHARS = 20000


def conversation_for(
    *,
    contact: Contact,
    channel: str,
    agent: Agent | None = None,
    campaign=None,
    campaign_id: int | None = None,
    sender=None,
    at: datetime | None = None,
) -> Conversation:
    """The contact's conversation, created on first use; `channel` becomes the thread's reply
    channel when it is SMS or email (a call adds turns, replies still go by text), and the
    agent, campaign (or campaign_id) and sender given (the newest campaign's) replace the old
    ones. A new thread's last activity is `at` (the first turn's time) or now."""
    if campaign is not None:
        campaign_id = campaign.pk
    links = {"agent": agent, "sender": sender}
    conversation = _get_or_create(contact, channel, at or timezone.now(), links, campaign_id)
    changes = {}
    if channel in REPLY_CHANNELS and conversation.channel != channel:
        changes["channel"] = channel
    for name, value in links.items():
        if value is not None and getattr(conversation, f"{name}_id") != value.pk:
            changes[name] = value
    if campaign_id is not None and conversation.campaign_id != campaign_id:
        changes["campaign_id"] = campaign_id
    for name, value in changes.items():
        setattr(conversation, name, value)
    if changes:
        conversation.save(update_fields=[name.removesuffix("_id") for name in changes])
    for name, value in links.items():  # kept on the object: no query to read them again
        if value is not None:
            setattr(conversation, name, value)
    return conversation


def _get_or_create(
    contact: Contact, channel: str, at: datetime, links: dict, campaign_id: int | None
) -> Conversation:
    existing = Conversation.objects.filter(workspace_id=contact.workspace_id, contact=contact)
    if (found := existing.first()) is not None:
        return found
    try:
        with transaction.atomic():
            return Conversation.objects.create(
                workspace_id=contact.workspace_id,
                contact=contact,
                channel=channel if channel in REPLY_CHANNELS else "sms",
                campaign_id=campaign_id,
                last_activity_at=at,
                created_at=at,
                **{name: value for name, value in links.items() if value is not None},
            )
    except IntegrityError:  # created by a concurrent inbound
        return existing.get()


def turn_append(
    *,
    conversation: Conversation,
    direction: str,
    author: str,
    body: str,
    channel: str = "",
    message: Message | None = None,
    inbound: InboundMessage | None = None,
    user=None,
    at: datetime | None = None,
    new_row: bool = False,
) -> ConversationMessage:
    """Append one turn; a turn for the same outbound or inbound row is returned, not doubled.

    An inbound turn marks the thread unread; any turn moves its last activity (never back).
    An inbound row, or an outbound one the caller has just made (`new_row`), is most likely
    linked for the first time: its turn is inserted at once, and only a failed insert looks
    for the turn already there (one query instead of two)."""
    if direction not in Direction.values or author not in Author.values:
        raise ValueError(f"Unknown turn direction {direction!r} or author {author!r}.")
    if message is not None and not new_row and (found := _linked(message=message)) is not None:
        return found
    at = at or timezone.now()
    try:
        with transaction.atomic():
            turn = ConversationMessage.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                direction=direction,
                author=author,
                channel=channel or conversation.channel,
                body=body,
                message=message,
                inbound=inbound,
                user=user,
                created_at=at,
            )
    except IntegrityError:  # the same row linked before, or by a concurrent call
        return _linked(message=message) if message is not None else _linked(inbound=inbound)
    _touch(conversation, turn)
    return turn


def turns_append(
    *, conversation: Conversation, channel: str, turns: list[tuple[str, str, str, datetime]]
) -> None:
    """Append (direction, author, body, at) turns that link no outbound or inbound row (a
    call's words, turn by turn) in one INSERT, and move the thread in one UPDATE: as
    turn_append each in turn would (the last turn's preview, unread and the last inbound time
    for the contact's words, the last activity never back)."""
    if not turns:
        return
    for direction, author, _body, _at in turns:
        if direction not in Direction.values or author not in Author.values:
            raise ValueError(f"Unknown turn direction {direction!r} or author {author!r}.")
    ConversationMessage.objects.bulk_create(
        ConversationMessage(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.pk,
            direction=direction,
            author=author,
            channel=channel,
            body=body,
            created_at=at,
        )
        for direction, author, body, at in turns
    )
    fields = {"last_activity_at": Greatest("last_activity_at", Value(max(t[3] for t in turns)))}
    if spoken := [t for t in turns if t[0] != Direction.EVENT]:
        fields["preview"] = " ".join(spoken[-1][2].split())[:160]
    if inbound := [t[3] for t in turns if t[0] == Direction.INBOUND]:
        fields.update(unread=True, last_inbound_at=inbound[-1])
    Conversation.objects.filter(pk=conversation.pk).update(**fields)


def _linked(**row) -> ConversationMessage | None:
    return ConversationMessage.objects.filter(**row).first()


def _touch(conversation: Conversation, turn: ConversationMessage) -> None:
    """The thread after a turn, in one UPDATE: preview, unread, last activity (never back)."""
    fields = {"last_activity_at": Greatest("last_activity_at", Value(turn.created_at))}
    if turn.direction != Direction.EVENT:
        fields["preview"] = _preview(turn)
    if turn.direction == Direction.INBOUND:
        fields.update(unread=True, last_inbound_at=turn.created_at)
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    del fields["last_activity_at"]
    for name, value in fields.items():
        setattr(conversation, name, value)
    conversation.last_activity_at = max(conversation.last_activity_at, turn.created_at)


def _preview(turn: ConversationMessage) -> str:
    text = " ".join(turn.body.split())
    return text[:160]


def _event(conversation: Conversation, text: str, user=None) -> ConversationMessage:
    return turn_append(
        conversation=conversation,
        direction=Direction.EVENT,
        author=Author.STAFF if user is not None else Author.SYSTEM,
        body=text,
        user=user,
    )


def _who(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "Herald"


@transaction.atomic
def conversation_handoff(*, conversation: Conversation, reason: str, user=None) -> bool:
    """The agent stops answering and the thread waits for a person (status `human`, unread).
    False when it already waited for one."""
    reason = (reason or "Handed to a person.").strip()[:500]
    changed = (
        Conversation.objects.filter(pk=conversation.pk)
        .exclude(status=Status.HUMAN)
        .update(status=Status.HUMAN, handoff_reason=reason, handoffs=F("handoffs") + 1, unread=True)
    )
    conversation.refresh_from_db()
    if changed:
        _event(conversation, f"Handed to a person: {reason}", user)
    return bool(changed)


@transaction.atomic
def conversation_take_over(*, conversation: Conversation, user) -> None:
    """A person answers from now on: status `human`, assigned to them; the agent stays silent."""
    was = conversation.status
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Status.HUMAN, assignee=user, handoff_reason=f"Taken over by {_who(user)}."
    )
    conversation.refresh_from_db()
    if was != Status.HUMAN:
        _event(conversation, f"{_who(user)} took over from the agent.", user)


@transaction.atomic
def conversation_resume_agent(*, conversation: Conversation, user=None) -> None:
    """Hand the thread back to its agent; it answers the contact's next message."""
    if conversation.agent_id is None:
        raise ValidationError("This conversation has no agent: its campaign has none.")
    if conversation.contact.is_opted_out:
        raise ValidationError("The contact opted out: nobody may message them.")
    Conversation.objects.filter(pk=conversation.pk).update(
        status=Status.AGENT, handoff_reason="", agent_replies=0
    )
    conversation.refresh_from_db()
    _event(conversation, f"{_who(user)} handed the conversation back to the agent.", user)


@transaction.atomic
def conversation_close(*, conversation: Conversation, user=None, reason: str = "") -> bool:
    changed = (
        Conversation.objects.filter(pk=conversation.pk)
        .exclude(status=Status.CLOSED)
        .update(status=Status.CLOSED, unread=False)
    )
    conversation.refresh_from_db()
    if changed:
        _event(conversation, reason or f"{_who(user)} closed the conversation.", user)
    return bool(changed)


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, user=None, reason: str = "") -> bool:
    """A closed thread opens again: with its agent when it has one, else for a person."""
    status = Status.AGENT if conversation.agent_id else Status.HUMAN
    changed = Conversation.objects.filter(pk=conversation.pk, status=Status.CLOSED).update(
        status=status, agent_replies=0
    )
    conversation.refresh_from_db()
    if changed:
        _event(conversation, reason or f"{_who(user)} reopened the conversation.", user)
    return bool(changed)


@transaction.atomic
def conversation_assign(*, conversation: Conversation, assignee, user=None) -> None:
    """Assign to a member of the conversation's workspace, or to nobody (None)."""
    if (
        assignee is not None
        and not Membership.objects.filter(
            workspace_id=conversation.workspace_id, user=assignee
        ).exists()
    ):
        raise ValidationError({"assignee": "Assign to a member of this workspace."})
    Conversation.objects.filter(pk=conversation.pk).update(assignee=assignee)
    conversation.refresh_from_db()
    text = f"Assigned to {_who(assignee)}." if assignee is not None else "Unassigned."
    _event(conversation, text, user)


def conversation_mark_read(*, conversation: Conversation) -> None:
    if conversation.unread:
        Conversation.objects.filter(pk=conversation.pk).update(unread=False)
        conversation.unread = False


def conversation_reply(
    *, conversation: Conversation, user, body: str, subject: str = ""
) -> ConversationMessage:
    """A person's reply: queued in the outbox at once on the thread's channel (the pump sends
    it within a tick), after checking the contact may be messaged. The person takes the thread
    over: the agent stays silent until someone hands it back."""
    body = (body or "").strip()
    contact = Contact.objects.get(pk=conversation.contact_id)
    channel = conversation.channel
    to_address = contact.phone if channel == "sms" else contact.email
    limit = MAX_REPLY_CHARS if channel == "sms" else MAX_EMAIL_REPLY_CHARS
    if not body:
        raise ValidationError({"body": "Write the reply."})
    if len(body) > limit:
        raise ValidationError({"body": f"Keep the reply under {limit} characters."})
    if contact.is_opted_out:
        raise ValidationError({"body": "The contact opted out: no message may be sent to them."})
    if not to_address:
        raise ValidationError(
            {"body": f"The contact has no {'phone' if channel == 'sms' else 'email'}."}
        )
    with transaction.atomic():
        message = message_enqueue(
            workspace=contact.workspace,
            contact=contact,
            channel=channel,
            to_address=to_address,
            body=body,
            subject=(subject or reply_subject(conversation)) if channel == "email" else "",
            sender=reply_sender(conversation, channel),
        )
        turn = turn_append(
            conversation=conversation,
            direction=Direction.OUTBOUND,
            author=Author.STAFF,
            body=body,
            channel=channel,
            message=message,
            new_row=True,
            user=user,
        )
        if conversation.status != Status.HUMAN or conversation.assignee_id is None:
            Conversation.objects.filter(pk=conversation.pk).update(
                status=Status.HUMAN,
                assignee_id=conversation.assignee_id or (user.pk if user else None),
                handoff_reason=conversation.handoff_reason or f"Answered by {_who(user)}.",
            )
        Conversation.objects.filter(pk=conversation.pk).update(unread=False)
    conversation.refresh_from_db()
    return turn


def reply_sender(conversation: Conversation, channel: str):
    """The identity the contact wrote to (or their campaign's), if it fits the channel."""
    if conversation.sender is not None and conversation.sender.channel == channel:
        return conversation.sender
    campaign = conversation.campaign
    sender = getattr(campaign, "sender", None) if campaign is not None else None
    return sender if sender is not None and sender.channel == channel else None


def reply_subject(conversation: Conversation) -> str:
    """The subject of an email answer in this thread: "Re: " and the subject of its newest
    email that has one, the contact's (a reply, or a new email with its own subject) or ours
    (the campaign's, an earlier answer's); "Re: your message" when none has."""
    contact_id = conversation.contact_id
    ours = (
        Message.objects.filter(contact_id=contact_id, channel="email")
        .exclude(subject="")
        .order_by("-created_at", "-id")
        .values_list("created_at", "subject")
        .first()
    )
    theirs = (
        InboundMessage.objects.filter(contact_id=contact_id, channel="email")
        .exclude(subject="")
        .order_by("-received_at", "-id")
        .values_list("received_at", "subject")
        .first()
    )
    newest = max((s for s in (ours, theirs) if s is not None), key=lambda s: s[0], default=None)
    return (subject_reply(newest[1]) if newest else "") or "Re: your message"
