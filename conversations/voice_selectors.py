"""Reads of AI voice calls (V6): a campaign's call results, each recipient's call for the
results CSV, and the calls in a contact's activity."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Avg, Count, Q

from accounts.models import Workspace
from messaging.models import Message
from messaging.selectors import ActivityItem

from .models import VoiceCall, VoiceTurn
from .voice import agent_converses

S = Message.Status
UNANSWERED = ("busy", "no-answer")


def duration_text(seconds: float | None) -> str:
    """ "1m 05s", "42s"; "" for no value."""
    if seconds is None:
        return ""
    seconds = round(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def call_results(*, campaign_id: int, run_id: int | None = None) -> dict:
    """Answered (by a person), voicemail, no answer, busy, failed, the average length of the
    answered calls and the calls handed to a person.

    A completed call is answered unless machine detection said a machine took it (a call
    placed without a conversing agent has no detection: every completed call counts as
    answered). Busy and no answer are the calls whose last attempt was (retried or given up);
    failed are the others that failed.
    """
    messages = Message.objects.filter(campaign_id=campaign_id)
    calls = VoiceCall.objects.filter(campaign_id=campaign_id)
    if run_id is not None:
        messages = messages.filter(run_id=run_id)
        calls = calls.filter(message__run_id=run_id)
    counted = messages.aggregate(
        completed=Count("id", filter=Q(status__in=[S.DELIVERED, S.READ])),
        busy=Count("id", filter=Q(error_code="busy", status__in=[S.QUEUED, S.FAILED])),
        no_answer=Count("id", filter=Q(error_code="no-answer", status__in=[S.QUEUED, S.FAILED])),
        failed=Count(
            "id", filter=Q(status__in=[S.FAILED, S.UNDELIVERED]) & ~Q(error_code__in=UNANSWERED)
        ),
    )
    machines = calls.aggregate(
        voicemail=Count("id", filter=Q(outcome=VoiceCall.Outcome.VOICEMAIL)),
        machine=Count("id", filter=Q(outcome=VoiceCall.Outcome.MACHINE)),
        handoffs=Count("id", filter=Q(handoff=True)),
        average=Avg("duration_seconds", filter=Q(outcome=VoiceCall.Outcome.ANSWERED)),
    )
    answered = max(counted["completed"] - machines["voicemail"] - machines["machine"], 0)
    average = machines["average"]
    return {
        "answered": answered,
        "voicemail": machines["voicemail"],
        "no_answer": counted["no_answer"],
        "busy": counted["busy"],
        "failed": counted["failed"],
        "average_call_seconds": round(average, 1) if average is not None else None,
        "average_call_length": duration_text(average) or None,
        "handoffs": machines["handoffs"],
    }


def transcript_text(call: VoiceCall, turns: list[VoiceTurn]) -> str:
    """The call as lines "Who: text" (what the contact said, with the recognizer's confidence
    when it gave one)."""
    agent_name = call.agent.name if call.agent_id and call.agent else "Agent"
    lines = []
    for turn in turns:
        if turn.speech:
            confidence = f" ({turn.confidence:.0%})" if turn.confidence is not None else ""
            lines.append(f"Contact{confidence}: {turn.speech}")
        if turn.reply:
            lines.append(f"{agent_name}: {turn.reply}")
    return "\n".join(lines)


def _turns_by_call(call_ids: list[int]) -> dict[int, list[VoiceTurn]]:
    turns: dict[int, list[VoiceTurn]] = {}
    for turn in VoiceTurn.objects.filter(call_id__in=call_ids).order_by("call_id", "number"):
        turns.setdefault(turn.call_id, []).append(turn)
    return turns


def message_calls(*, campaign_id: int) -> dict[int, tuple]:
    """Per message of the campaign that was answered (by a person or a machine): the results
    CSV's (call outcome, ending, seconds, handoff, transcript), read once for the campaign."""
    calls = list(
        VoiceCall.objects.filter(campaign_id=campaign_id)
        .select_related("agent")
        .order_by("message_id", "started_at")
    )
    turns = _turns_by_call([c.pk for c in calls])
    found = {}
    for call in calls:  # a message called again after busy: its last answered call wins
        found[call.message_id] = (
            call.outcome,
            call.ending,
            call.duration_seconds if call.duration_seconds is not None else "",
            "yes" if call.handoff else "",
            transcript_text(call, turns.get(call.pk, [])),
        )
    return found


CSV_COLUMNS = ("call_outcome", "call_ending", "call_seconds", "handoff", "transcript")
CSV_EMPTY = ("", "", "", "", "")


def activity_items(
    workspace: Workspace, contact_id: int, newest_first: bool, limit: int
) -> Iterator[ActivityItem]:
    """The contact's answered calls with their transcripts, for messaging.selectors'
    contact_activity (named in settings.HERALD_ACTIVITY_SOURCES)."""
    order = ("-started_at", "-id") if newest_first else ("started_at", "id")
    calls = list(
        VoiceCall.objects.for_workspace(workspace)
        .filter(contact_id=contact_id)
        .select_related("agent", "campaign")
        .order_by(*order)[:limit]
    )
    turns = _turns_by_call([c.pk for c in calls])
    for call in calls:
        length = duration_text(call.duration_seconds)
        detail = [call.get_ending_display() if call.ending else "In progress", length]
        if call.handoff:
            detail.append(f"handed to a person: {call.handoff_reason}")
        yield ActivityItem(
            type="call_conversation",
            timestamp=call.started_at,
            message=transcript_text(call, turns.get(call.pk, [])),
            status=call.outcome,
            status_label=call.get_outcome_display(),
            channel="voice",
            campaign=call.campaign.name if call.campaign else "",
            campaign_id=call.campaign_id,
            detail=" · ".join(part for part in detail if part),
            key=("v", call.pk),
        )


def voice_plan(agent) -> dict:
    """How a voice campaign's call goes with this agent, for the builder: whether the agent
    converses (it has a model), its instructions and its maximum call length."""
    return {
        "agent": agent,
        "converses": agent_converses(agent),
        "instructions": (agent.instructions or "").strip() if agent else "",
        "max_call": duration_text(agent.max_call_seconds) if agent else "",
    }
