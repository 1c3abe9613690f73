"""Reads of the inbox (V2): the list with its filters (keyset pages), a thread, the counts.

Every read takes the workspace and filters by it. The list is ordered by last activity
(newest first) with the id as tie-break, and pages by keyset on that pair, so page 500 of
100,000 threads costs what page 1 does (the indexes conv_ws_activity and
conv_ws_status_activity serve each filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import Workspace
from messaging.email_threading import subject_bare

from .answering import token_budget, workspace_tokens_today
from .models import AgentAnswer, Conversation, ConversationMessage

Status = Conversation.Status
VIEWS = {
    "human": "Needs a human",
    "agent": "Agent handling",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "closed": "Closed",
    "all": "All",
}
PAGE_SIZE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class InboxFilters:
    view: str = "human"
    unread: bool = False
    campaign: int | None = None
    agent: int | None = None
    q: str = ""

    @classmethod
    def from_query(cls, query) -> InboxFilters:
        view = query.get("view") or "human"
        return cls(
            view=view if view in VIEWS else "human",
            unread=query.get("unread") in ("1", "on", "true"),
            campaign=_int(query.get("campaign")),
            agent=_int(query.get("agent")),
            q=(query.get("q") or "").strip()[:100],
        )


@dataclass(frozen=True)
class InboxPage:
    conversations: list[Conversation]
    next_cursor: str  # "" on the last page


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def conversation_queryset(*, workspace: Workspace, filters: InboxFilters, user) -> QuerySet:
    qs = Conversation.objects.for_workspace(workspace)
    view = filters.view
    if view in (Status.HUMAN, Status.AGENT, Status.CLOSED):
        qs = qs.filter(status=view)
    elif view == "mine":
        if user is None or not user.is_authenticated:  # an API key is nobody
            return qs.none()
        qs = qs.filter(assignee=user).exclude(status=Status.CLOSED)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True).exclude(status=Status.CLOSED)
    if filters.unread:
        qs = qs.filter(unread=True)
    if filters.campaign:
        qs = qs.filter(campaign_id=filters.campaign)
    if filters.agent:
        qs = qs.filter(agent_id=filters.agent)
    if filters.q:
        q = filters.q
        qs = qs.filter(
            Q(contact__first_name__icontains=q)
            | Q(contact__last_name__icontains=q)
            | Q(contact__phone__icontains=q)
            | Q(contact__email__icontains=q)
        )
    return qs


def conversation_list(
    *,
    workspace: Workspace,
    filters: InboxFilters,
    user,
    cursor: str = "",
    limit: int = PAGE_SIZE,
) -> InboxPage:
    """One page of threads, newest activity first; `cursor` is the last page's next_cursor."""
    qs = conversation_queryset(workspace=workspace, filters=filters, user=user)
    if (after := _cursor(cursor)) is not None:
        at, pk = after
        qs = qs.filter(Q(last_activity_at__lt=at) | Q(last_activity_at=at, id__lt=pk))
    rows = list(
        qs.select_related("contact", "agent", "assignee", "campaign").order_by(
            "-last_activity_at", "-id"
        )[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _cursor_of(rows[-1]) if more else ""
    return InboxPage(conversations=rows, next_cursor=next_cursor)


def _cursor_of(conversation: Conversation) -> str:
    """URL-safe: microseconds since the epoch and the id ("1764670000123456~42")."""
    delta = conversation.last_activity_at - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}~{conversation.pk}"


def _cursor(cursor: str) -> tuple[datetime, int] | None:
    micros, _, pk = (cursor or "").partition("~")
    if not micros.lstrip("-").isdigit() or len(micros) > 20:
        return None
    number = _int(pk)
    try:
        when = EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return None
    return (when, number) if number else None


def conversation_get(*, workspace: Workspace, pk: int) -> Conversation | None:
    return (
        Conversation.objects.for_workspace(workspace)
        .select_related("contact", "agent", "assignee", "campaign", "sender")
        .filter(pk=pk)
        .first()
    )


def conversation_turns(*, conversation: Conversation, limit: int = 200) -> list:
    """The newest `limit` turns of the thread, oldest first. An email turn whose subject
    differs from the previous email's (Re: and Fwd: aside) carries it as `shown_subject`, as
    a mail client shows a thread: the first email's subject, then only a new one."""
    turns = list(
        ConversationMessage.objects.filter(conversation=conversation)
        .select_related("user", "message", "inbound")
        .defer("inbound__body", "message__body", "message__html_body")
        .order_by("-created_at", "-id")[:limit]
    )[::-1]
    previous = None
    for turn in turns:
        turn.shown_subject = ""
        if turn.channel != "email" or turn.direction == ConversationMessage.Direction.EVENT:
            continue
        row = turn.inbound if turn.inbound_id else turn.message
        subject = " ".join((row.subject if row is not None else "").split())
        if not subject:
            continue
        bare = subject_bare(subject).casefold()
        if bare != previous:
            turn.shown_subject = subject
        previous = bare
    return turns


def conversation_agent_replies(*, conversation: Conversation) -> int:
    """How many times the agent wrote to the contact in this thread: its model's answers, its
    keyword replies, and any turn written as the agent's (the demo data). Not
    `Conversation.agent_replies`, which counts only model answers since the agent last took
    the thread (its max-turns guard) and is reset when a person hands it back."""
    return ConversationMessage.objects.filter(
        conversation=conversation,
        author=ConversationMessage.Author.AGENT,
        direction=ConversationMessage.Direction.OUTBOUND,
    ).count()


def needs_human_count(*, workspace: Workspace) -> int:
    return Conversation.objects.filter(workspace=workspace, status=Status.HUMAN).count()


def agent_stats(*, agent) -> dict:
    """What an agent did: answers, handoffs, tokens (V4), over all time."""
    totals = AgentAnswer.objects.filter(workspace_id=agent.workspace_id, agent=agent).aggregate(
        answers=Count("id"),
        replies=Count("id", filter=Q(outcome=AgentAnswer.Outcome.REPLY)),
        handoffs=Count("id", filter=Q(outcome=AgentAnswer.Outcome.HANDOFF)),
        tokens=Sum("total_tokens"),
    )
    totals["tokens"] = totals["tokens"] or 0
    workspace = agent.workspace
    totals["budget"] = token_budget(workspace)
    totals["today"] = workspace_tokens_today(workspace.pk, tz=workspace.timezone)
    return totals


def campaign_conversations(*, campaign_id: int) -> dict:
    """What the campaign's conversations came to (campaign results): threads, handoffs to a
    person, and how many wait for one now."""
    totals = Conversation.objects.filter(campaign_id=campaign_id).aggregate(
        conversations=Count("id"),
        handoffs=Sum("handoffs"),
        needs_human=Count("id", filter=Q(status=Status.HUMAN)),
    )
    totals["handoffs"] = totals["handoffs"] or 0
    return totals
