"""/api/v1/conversations (V7): threads with their filters, a thread's messages, a reply, and
the state changes (hand off to a person, resume the agent, close, assign)."""

from datetime import datetime
from typing import Annotated

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404
from ninja import Field, Query, Router, Schema

from conversations import selectors, threads
from conversations.models import Conversation
from conversations.selectors import VIEWS, InboxFilters

from .schemas import ERRORS, Input

router = Router(tags=["conversations"])


class ConversationFilters(Input):
    view: str = Field("all", description=f"One of {', '.join(VIEWS)}.")
    unread: bool = False
    campaign: int | None = None
    agent: int | None = None
    q: str = Field("", max_length=100, description="Contact name, phone or email contains.")
    after: str = Field("", max_length=80, description="The previous page's next_cursor.")
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class ConversationOut(Schema):
    id: int
    contact_id: int
    contact_name: str
    channel: str
    status: str
    agent_id: int | None
    campaign_id: int | None
    assignee_id: int | None
    handoff_reason: str
    handoffs: int
    agent_replies: int
    unread: bool
    preview: str
    last_activity_at: datetime
    created_at: datetime

    @staticmethod
    def resolve_contact_name(obj: Conversation) -> str:
        return obj.contact.full_name


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str


class TurnOut(Schema):
    id: int
    direction: str
    author: str
    channel: str
    body: str
    message_id: int | None
    message_status: str | None
    inbound_id: int | None
    user_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_message_status(obj) -> str | None:
        return obj.message.status if obj.message_id and obj.message else None


class ConversationDetail(ConversationOut):
    messages: list[TurnOut]


class ReplyIn(Input):
    body: str = Field(..., max_length=20000)
    subject: str = Field("", max_length=255)


class HandoffIn(Input):
    reason: str = Field("", max_length=500)


class AssignIn(Input):
    user_id: int | None = Field(None, description="A member of the workspace; null unassigns.")


def _conversation(request, conversation_id: int) -> Conversation:
    found = selectors.conversation_get(workspace=request.workspace, pk=conversation_id)
    if found is None:
        raise Http404("No such conversation.")
    return found


def _user(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _detail(conversation: Conversation) -> dict:
    conversation.messages = selectors.conversation_turns(conversation=conversation)
    return conversation


@router.get("", response={200: ConversationPage, **ERRORS}, summary="List conversations")
def conversation_list(request, filters: Query[ConversationFilters]):
    """Newest activity first, keyset-paged: pass `next_cursor` back as `after`."""
    page = selectors.conversation_list(
        workspace=request.workspace,
        filters=InboxFilters(
            view=filters.view if filters.view in VIEWS else "all",
            unread=filters.unread,
            campaign=filters.campaign,
            agent=filters.agent,
            q=filters.q.strip(),
        ),
        user=_user(request),
        cursor=filters.after,
        limit=filters.limit,
    )
    return {"items": page.conversations, "next_cursor": page.next_cursor}


@router.get(
    "/{conversation_id}", response={200: ConversationDetail, **ERRORS}, summary="A conversation"
)
def conversation_get(request, conversation_id: int):
    """With its messages (the newest 200, oldest first)."""
    return _detail(_conversation(request, conversation_id))


@router.post(
    "/{conversation_id}/reply", response={200: ConversationDetail, **ERRORS}, summary="Reply"
)
def conversation_reply(request, conversation_id: int, payload: ReplyIn):
    """Queued in the outbox at once on the thread's channel; the agent stays silent after."""
    conversation = _conversation(request, conversation_id)
    threads.conversation_reply(
        conversation=conversation, user=_user(request), body=payload.body, subject=payload.subject
    )
    return _detail(_conversation(request, conversation_id))


@router.post(
    "/{conversation_id}/handoff",
    response={200: ConversationDetail, **ERRORS},
    summary="Hand to a person",
)
def conversation_handoff(request, conversation_id: int, payload: HandoffIn):
    conversation = _conversation(request, conversation_id)
    threads.conversation_handoff(
        conversation=conversation,
        reason=payload.reason or "Handed off through the API.",
        user=_user(request),
    )
    return _detail(conversation)


@router.post(
    "/{conversation_id}/resume-agent",
    response={200: ConversationDetail, **ERRORS},
    summary="Hand back to the agent",
)
def conversation_resume_agent(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    threads.conversation_resume_agent(conversation=conversation, user=_user(request))
    return _detail(conversation)


@router.post(
    "/{conversation_id}/close", response={200: ConversationDetail, **ERRORS}, summary="Close"
)
def conversation_close(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    threads.conversation_close(conversation=conversation, user=_user(request))
    return _detail(conversation)


@router.post(
    "/{conversation_id}/assign", response={200: ConversationDetail, **ERRORS}, summary="Assign"
)
def conversation_assign(request, conversation_id: int, payload: AssignIn):
    conversation = _conversation(request, conversation_id)
    assignee = None
    if payload.user_id is not None:
        assignee = get_user_model().objects.filter(pk=payload.user_id).first()
        if assignee is None:
            raise ValidationError({"user_id": "Assign to a member of this workspace."})
    threads.conversation_assign(conversation=conversation, assignee=assignee, user=_user(request))
    return _detail(conversation)
