"""The agent answers (V4, V5): one model decision per burst of a contact's messages.

* `answer_schedule` (from the inbound path) bumps the thread's `generation` and queues
  `conversations.tasks.agent_answer(conversation, generation)` after a short debounce
  (HERALD_AGENT_DEBOUNCE_SECONDS): messages of one burst each bump the generation, and only
  the task of the newest one answers, so a burst gets one reply. A burst that never pauses is
  answered anyway once its first message waited HERALD_AGENT_MAX_WAIT_SECONDS.
* `conversation_answer` (the task) checks the guards (status, opt-out, max turns, replies
  per hour, the workspace's daily tokens), builds the context from THIS contact's thread only,
  asks the model, and applies its action in one transaction that also inserts the
  `AgentAnswer` row, unique on (conversation, generation): a retried or duplicated task, or a
  second worker, may call the model twice but can never send twice.
* Anything that goes wrong (no agent, no model, a model error after its bounded retries, an
  invalid answer, a guard) hands the thread to a person with the reason. The agent then stays
  silent until someone hands it back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_opt_out
from messaging.keywords import STOP_REPLY
from messaging.outbox import message_enqueue

from . import threads
from .context import AgentBrief, Turn, contact_fields, context_build
from .llm import ModelResult, ReplyLimit, model_decide, model_name
from .models import (
    Agent,
    AgentAnswer,
    ConsoleAnswer,
    Conversation,
    ConversationMessage,
    VoiceCall,
    VoiceTurn,
)

logger = logging.getLogger("herald.conversations")

Status = Conversation.Status
Author = ConversationMessage.Author
Direction = ConversationMessage.Direction
Outcome = AgentAnswer.Outcome
SMS_SEGMENT_CHARS = 153  # a segment of a multi-part GSM SMS; the segment check is exact
EMAIL_REPLY_CHARS = 2000


def model_available(agent: Agent | None) -> bool:
    """Whether this agent can ask a model: a server is set and a model (its own or the
    default) is named."""
    return bool(agent is not None and settings.HERALD_LLM_BASE_URL and model_name(agent.model))


def answer_schedule(*, conversation: Conversation) -> None:
    """Queue the agent's answer to the thread's newest message, or hand it to a person when
    the agent cannot answer (no agent, no model configured)."""
    if conversation.agent_id is None:
        threads.conversation_handoff(
            conversation=conversation, reason="No agent answers this conversation."
        )
        return
    if not model_available(conversation.agent):
        threads.conversation_handoff(
            conversation=conversation,
            reason="No AI model is connected (HERALD_LLM_BASE_URL, HERALD_LLM_MODEL), and no "
            "keyword rule matched.",
        )
        return
    conversation.generation = _generation_bump(conversation.pk, timezone.now())
    key = (conversation.pk, conversation.generation)
    transaction.on_commit(lambda: _queue(*key))


_BUMP = (
    f"UPDATE {Conversation._meta.db_table} SET generation = generation + 1, "
    "waiting_since = COALESCE(waiting_since, %s) WHERE id = %s RETURNING generation"
)


def _generation_bump(conversation_id: int, now: datetime) -> int:
    """A new burst generation (and the wait's start, unless one is running), in one statement
    where the database returns the new number (PostgreSQL), else an UPDATE and a read."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_BUMP, [now, conversation_id])
            return cursor.fetchone()[0]
    Conversation.objects.filter(pk=conversation_id).update(
        generation=F("generation") + 1, waiting_since=Coalesce("waiting_since", Value(now))
    )
    return Conversation.objects.filter(pk=conversation_id).values_list("generation", flat=True)[0]


LOST_AFTER = timedelta(minutes=5)


def answers_resume(*, now: datetime | None = None, limit: int = 200) -> int:
    """Queue again the answers whose task was lost: threads the agent handles that have waited
    for an answer much longer than any debounce. The database is the truth, the broker only
    carries work (as for the outbox); a task that was only late finds its burst answered and
    does nothing, so queuing twice never answers twice."""
    now = now or timezone.now()
    waiting = Conversation.objects.filter(
        status=Status.AGENT, waiting_since__lt=now - LOST_AFTER
    ).values_list("pk", "generation")[:limit]
    found = list(waiting)
    for conversation_id, generation in found:
        _queue(conversation_id, generation, countdown=0)
    if found:
        logger.warning("Re-queued %s agent answers whose task was lost", len(found))
    return len(found)


def _queue(conversation_id: int, generation: int, countdown: float | None = None) -> None:
    from .tasks import agent_answer

    if countdown is None:
        countdown = settings.HERALD_AGENT_DEBOUNCE_SECONDS
    agent_answer.apply_async((conversation_id, generation), countdown=countdown)


def conversation_answer(
    *, conversation_id: int, generation: int, now: datetime | None = None
) -> AgentAnswer | None:
    """Answer the burst that ended with `generation`, once. None when there is nothing to do
    (a newer message will be answered by its own task, a person took over, already answered)."""
    now = now or timezone.now()
    conversation = (
        Conversation.objects.select_related("agent", "contact", "workspace")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None or not _due(conversation, generation, now):
        return None
    current = conversation.generation
    # Whether this burst is answered, and the agent's replies in the last hour (a guard): one
    # query.
    answers = AgentAnswer.objects.filter(conversation=conversation).aggregate(
        done=Count("id", filter=Q(generation=current)),
        recent=Count(
            "id", filter=Q(outcome=Outcome.REPLY, created_at__gte=now - timedelta(hours=1))
        ),
    )
    if answers["done"]:
        return None
    agent = conversation.agent
    if agent is None or not model_available(agent):
        return _apply(conversation, current, ModelResult(decision=None), now, "No model or agent.")
    if (reason := _guard(conversation, agent, now, answers["recent"])) is not None:
        return _apply(conversation, current, ModelResult(decision=None), now, reason)
    context = _context(conversation, agent, now)
    result = model_decide(
        messages=context.messages,
        limit=_limit(conversation, agent, context.known_text),
        model=agent.model,
    )
    return _apply(conversation, current, result, now)


def _due(conversation: Conversation, generation: int, now: datetime) -> bool:
    if conversation.status != Status.AGENT or conversation.contact.is_opted_out:
        return False
    if conversation.generation == generation:
        return True
    waited = conversation.waiting_since
    return waited is not None and now - waited >= timedelta(
        seconds=settings.HERALD_AGENT_MAX_WAIT_SECONDS
    )


def _guard(conversation: Conversation, agent: Agent, now: datetime, recent: int) -> str | None:
    """Why the agent must not answer now (a person must), or None; `recent`: its replies in
    this conversation in the last hour."""
    if conversation.agent_replies >= agent.max_turns:
        return f"The agent reached its limit of {agent.max_turns} replies in this conversation."
    hourly = settings.HERALD_AGENT_REPLIES_PER_HOUR
    if hourly and recent >= hourly:
        return f"The agent already replied {recent} times in the last hour (a loop?)."
    return budget_spent(conversation.workspace, now)


def token_budget(workspace) -> int:
    """Tokens the workspace's agents may spend a day: its own setting, else the server's
    default (0: no limit)."""
    if workspace.ai_daily_tokens is not None:
        return workspace.ai_daily_tokens
    return settings.HERALD_LLM_DAILY_TOKENS


def budget_spent(workspace, now: datetime | None = None) -> str | None:
    """Why the workspace's agents must not call the model today (its budget is spent), or
    None. Checked before every model call: SMS and email answers, and each call turn."""
    budget = token_budget(workspace)
    if budget and workspace_tokens_today(workspace.pk, now, tz=workspace.timezone) >= budget:
        return f"The workspace used its daily AI budget of {budget} tokens."
    return None


_TOKENS_TODAY = f"""
SELECT (SELECT COALESCE(SUM(total_tokens), 0) FROM {AgentAnswer._meta.db_table}
        WHERE workspace_id = %s AND created_at >= %s)
     + (SELECT COALESCE(SUM(t.tokens), 0)
        FROM {VoiceTurn._meta.db_table} t JOIN {VoiceCall._meta.db_table} c ON c.id = t.call_id
        WHERE c.workspace_id = %s AND t.received_at >= %s AND t.tokens > 0)
     + (SELECT COALESCE(SUM(total_tokens), 0) FROM {ConsoleAnswer._meta.db_table}
        WHERE workspace_id = %s AND created_at >= %s)
"""


def workspace_tokens_today(
    workspace_id: int, now: datetime | None = None, *, tz: str = "UTC"
) -> int:
    """Tokens the workspace's agents spent since midnight in time zone `tz`: answers, call
    turns and test consoles."""
    now = now or timezone.now()
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    # One statement for both sums, written out: a voice turn asks before every model call,
    # and the ORM took longer to build the query than the database took to answer it.
    since = connection.ops.adapt_datetimefield_value(midnight)
    with connection.cursor() as cursor:
        cursor.execute(_TOKENS_TODAY, [workspace_id, since] * 3)
        (total,) = cursor.fetchone()
    return int(total or 0)


def agent_brief(agent: Agent) -> AgentBrief:
    return AgentBrief(
        name=agent.name,
        instructions=agent.instructions,
        knowledge=agent.knowledge,
        goal=agent.goal,
        handoff_rules=agent.handoff_rules,
    )


def _context(conversation: Conversation, agent: Agent, now: datetime):
    recent = list(
        ConversationMessage.objects.filter(conversation=conversation)
        .exclude(direction=Direction.EVENT)
        .order_by("-created_at", "-id")[:40]
    )[::-1]
    campaign = next((t.body for t in reversed(recent) if t.author == Author.CAMPAIGN), "")
    return context_build(
        agent=agent_brief(agent),
        channel=conversation.channel,
        max_reply_chars=reply_chars(conversation.channel, agent),
        campaign_message=campaign,
        fields=contact_fields(conversation.contact),
        turns=[Turn(author=t.author, text=t.body, at=t.created_at) for t in recent],
        now=now,
    )


def reply_chars(channel: str, agent: Agent) -> int:
    if channel == "email":
        return EMAIL_REPLY_CHARS
    return SMS_SEGMENT_CHARS * max(agent.max_reply_segments, 1) + 7  # one segment is 160


def _limit(conversation: Conversation, agent: Agent, known_text: str) -> ReplyLimit:
    sms = conversation.channel != "email"
    return ReplyLimit(
        max_chars=reply_chars(conversation.channel, agent),
        max_segments=max(agent.max_reply_segments, 1) if sms else None,
        known_text=known_text,
    )


def _apply(
    conversation: Conversation,
    generation: int,
    result: ModelResult,
    now: datetime,
    reason: str = "",
) -> AgentAnswer | None:
    """Do what the model decided, exactly once per burst (the AgentAnswer row is the key)."""
    decision = result.decision
    outcome = decision.action if decision is not None else Outcome.HANDOFF
    why = reason or (
        decision.reason if decision is not None else f"The model failed: {result.error}"
    )
    try:
        with transaction.atomic():
            # Locked, with what the action needs read fresh in the same query: the contact
            # (opted out while the model thought?), the workspace and the sender.
            locked = (
                Conversation.objects.select_for_update(of=("self",))
                .select_related("contact", "workspace", "sender")
                .get(pk=conversation.pk)
            )
            if locked.status != Status.AGENT:
                return None  # a person took over while the model was thinking
            if locked.generation != generation and not _due(locked, -1, now):
                return None  # the contact wrote again: that message's task answers both
            answer = AgentAnswer.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                agent=conversation.agent,
                generation=generation,
                outcome=outcome,
                reason=(why or "")[:500],
                model=result.model[:120],
                attempts=result.attempts,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                total_tokens=result.total_tokens,
                latency_ms=result.latency_ms,
                error=result.error[:500],
                created_at=now,
            )
            answer.message_ids, replied = _act(
                locked, outcome, decision.reply if decision is not None else "", why
            )
            done = {"waiting_since": None}
            if replied:  # the max-turns guard counts the agent's replies to the contact
                done["agent_replies"] = F("agent_replies") + 1
            Conversation.objects.filter(pk=conversation.pk).update(**done)
    except IntegrityError:
        return None  # answered by another task
    logger.info(
        "Agent answer %s on conversation %s: %s (%s tokens, %s ms)",
        answer.pk,
        conversation.pk,
        outcome,
        result.total_tokens,
        result.latency_ms,
    )
    return answer


def _act(
    conversation: Conversation, outcome: str, reply: str, reason: str
) -> tuple[list[int], bool]:
    """Apply the decision; the ids of the messages it queued, and whether the agent wrote to
    the contact (not the opt-out confirmation)."""
    contact = conversation.contact
    if outcome == Outcome.OPT_OUT:
        contact_opt_out(contact=contact, reason="message", detail="Asked the agent to stop")
        sent = _send(conversation, contact, STOP_REPLY, confirmation=True)
        threads.conversation_close(
            conversation=conversation, reason="The contact asked the agent to stop: opted out."
        )
        return sent, False
    sent = _send(conversation, contact, reply) if reply else []
    if outcome == Outcome.REPLY:
        return sent, bool(sent)
    if outcome == Outcome.END:
        threads.conversation_close(
            conversation=conversation, reason=f"The agent ended the conversation: {reason}"
        )
    else:
        threads.conversation_handoff(conversation=conversation, reason=reason)
    return sent, bool(sent)


def _send(conversation: Conversation, contact: Contact, text: str, confirmation=False) -> list:
    """Queue the agent's text to THIS conversation's contact, on the thread's channel."""
    channel = conversation.channel
    address = contact.email if channel == "email" else contact.phone
    if not address:
        return []
    message = message_enqueue(
        workspace=conversation.workspace,
        # The opt-out confirmation goes to a contact who is now opted out: without the
        # contact on the row the send does not skip it (it is the one message they must get).
        contact=None if confirmation else contact,
        channel=channel,
        to_address=address,
        body=text,
        subject=threads.reply_subject(conversation) if channel == "email" else "",
        sender=threads.reply_sender(conversation, channel),
    )
    threads.turn_append(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        author=Author.AGENT,
        body=text,
        channel=channel,
        message=message,
        new_row=True,
    )
    return [message.pk]


CONSOLE_TURNS = 20
SAMPLE_CONTACT = {"first_name": "Sam", "last_name": "Sample", "company": "Example Co"}


def console_answer(*, agent: Agent, turns: list[Turn], channel: str = "sms") -> ModelResult:
    """The agent's answer in its test console (V3): the real model call with a sample contact
    and the typed thread. Nothing is sent and only the tokens are stored (ConsoleAnswer): they
    count toward the workspace's daily AI budget, which the view checks first."""
    context = context_build(
        agent=agent_brief(agent),
        channel=channel,
        max_reply_chars=reply_chars(channel, agent),
        campaign_message="",
        fields=dict(SAMPLE_CONTACT),
        turns=turns[-CONSOLE_TURNS:],
        now=timezone.now(),
    )
    limit = ReplyLimit(
        max_chars=reply_chars(channel, agent),
        max_segments=max(agent.max_reply_segments, 1) if channel == "sms" else None,
        known_text=context.known_text,
    )
    result = model_decide(messages=context.messages, limit=limit, model=agent.model)
    if result.total_tokens:
        ConsoleAnswer.objects.create(
            workspace_id=agent.workspace_id, agent=agent, total_tokens=result.total_tokens
        )
    return result
