"""AI voice calls (V6): the agent holds a conversation on the phone, one `<Gather>` at a time.

A call of a campaign whose agent converses (it has an agent and a model is configured) is
placed with a URL to Herald instead of inline TwiML (`call_parameters`, messaging's `call`
hook), with answering-machine detection. Then, all signed Twilio webhooks (voice_views.py):

- answer (turn 0): a person → the opening message inside `<Gather input="speech">`; a
  machine at the end of its greeting → the opening message as a voicemail, then hang up;
- turn n: what the contact said → the model decides (same context rules as the SMS agent,
  the call's transcript as the thread) → `<Say>` the reply and `<Gather>` again, or `<Say>` and
  `<Hangup/>` for end, opt_out (the contact is opted out) and handoff (a person calls back);
- status: the call's status for the message (as messaging's status webhook), and its end and
  length for the call.

Every turn answers inside Twilio's 15-second webhook limit: the model call has its own
deadline (HERALD_VOICE_MODEL_SECONDS), and an error, timeout or invalid answer gets a short
fallback line and a handoff. Each turn's TwiML is stored under (call, turn number), so a
replayed webhook gets the same TwiML without a second model call. No speech twice in a row
ends the call politely; near the agent's maximum duration the agent wraps up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from twilio.twiml.voice_response import Gather, VoiceResponse

from contacts.models import Contact
from contacts.services import contact_opt_out
from messaging.models import Message

from . import llm
from .answering import agent_brief, budget_spent, model_available
from .context import Turn, contact_fields, context_build
from .models import Conversation, VoiceCall, VoiceTurn
from .threads import (
    conversation_close,
    conversation_for,
    conversation_handoff,
    turn_append,
    turns_append,
)

logger = logging.getLogger("herald.voice")

MAX_SPEECH_CHARS = 1000  # what one utterance may hold; Twilio's are far shorter
MAX_REPLY_CHARS = 600  # about 40 s of speech; the model's answer is refused past it
SILENT_TURNS_LIMIT = 2
GATHER_TIMEOUT = 5  # seconds of silence before Gather gives up
MACHINE_END = ("machine_end_beep", "machine_end_silence", "machine_end_other")
MACHINE_HANG_UP = ("machine_start", "fax")

GOODBYE = "Thank you for your time. Goodbye."
NO_SPEECH_AGAIN = "Sorry, I didn't hear anything. Are you still there?"
NO_SPEECH_GOODBYE = "I can't hear you, so I'll let you go. Goodbye."
OPT_OUT_LINE = "Understood. We won't call or message you again. Goodbye."
HANDOFF_LINE = "Thank you. Someone from our team will call you back. Goodbye."
FALLBACK_LINE = (
    "Sorry, I'm having trouble on my side. Someone from our team will call you back. Goodbye."
)
WRAP_UP_LINE = "We're almost out of time, so I'll stop here. Thank you, and goodbye."
OPTED_OUT_LINE = "Sorry to bother you. Goodbye."


# Placing the call ----------------------------------------------------------------------------


def agent_converses(agent) -> bool:
    """Whether an agent holds a conversation on the phone: it can ask a model (a server is
    set and a model named, the agent's own or the default), as for text conversations."""
    return model_available(agent)


def _webhook_url(name: str, **query) -> str:
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"{settings.PUBLIC_BASE_URL}{reverse(name)}?{params}"


def call_parameters(*, message: Message) -> dict | None:
    """messaging's `call` hook: the Calls API parameters of a conversing call, else None (the
    call says its message and hangs up, as without a model)."""
    if message.channel != "voice" or not message.campaign_id:
        return None
    if not agent_converses(message.campaign.agent):
        return None
    parameters = {
        "url": _webhook_url("voice:answer", m=message.pk),
        "method": "POST",
        # DetectMessageEnd: a person is told at once; a machine once its greeting has ended,
        # so the voicemail records the whole opening message.
        "machine_detection": "DetectMessageEnd",
        "status_callback": _webhook_url("voice:status", m=message.pk),
    }
    if settings.HERALD_VOICE_ASYNC_AMD:
        # The opening plays as soon as the call is answered; the verdict comes to its own
        # webhook, which turns a machine's call into a voicemail (voice_machines.py).
        parameters |= {
            "async_amd": "true",
            "async_amd_status_callback": _webhook_url("voice:machine", m=message.pk),
            "async_amd_status_callback_method": "POST",
        }
    return parameters


# TwiML ----------------------------------------------------------------------------------------


def _say(target, text: str, agent) -> None:
    target.say(
        text,
        voice=(agent.voice if agent and agent.voice else None),
        language=(agent.language if agent and agent.language else None),
    )


MAX_HINTS = 500  # Twilio's limit on <Gather hints> entries (warning 13330), 100 characters each


def speech_hints(agent, contact) -> str:
    """<Gather hints>: the agent's words callers may say, then the contact's and the agent's
    names (speech recognition mishears names most), comma-separated, without repeats."""
    names = []
    if contact is not None:
        names += [
            contact.first_name,
            contact.last_name,
            f"{contact.first_name} {contact.last_name}",
        ]
    if agent is not None:
        names.append(agent.name)
    hints, seen = [], set()
    for entry in [*(agent.speech_hints.splitlines() if agent else []), *names]:
        hint = " ".join(entry.replace(",", " ").split())[:100]  # a comma would split it
        if hint and hint.lower() not in seen and len(hints) < MAX_HINTS:
            seen.add(hint.lower())
            hints.append(hint)
    return ", ".join(hints)


def _listen(message_id: int, number: int, text: str, agent, contact=None) -> str:
    """Say `text`, then listen for the contact's answer, posted as turn `number`."""
    action = _webhook_url("voice:turn", m=message_id, t=number)
    response = VoiceResponse()
    gather = Gather(
        input="speech",
        action=action,
        method="POST",
        timeout=GATHER_TIMEOUT,
        speech_timeout="auto",
        action_on_empty_result=True,
        language=(agent.language if agent and agent.language else "en-US"),
        hints=speech_hints(agent, contact) or None,
    )
    _say(gather, text, agent)
    response.append(gather)
    # Without a result Twilio falls through to the next verb: the same turn, empty.
    response.redirect(action, method="POST")
    return str(response)


def _hang_up(text: str, agent) -> str:
    response = VoiceResponse()
    if text:
        _say(response, text, agent)
    response.hangup()
    return str(response)


def _hold(url: str) -> str:
    """The turn is being answered (a replay overtook it): wait, then ask again."""
    response = VoiceResponse()
    response.pause(length=1)
    response.redirect(url, method="POST")
    return str(response)


# Webhooks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceAnswer:
    """The TwiML to answer with, and what to do once it has been sent (the thread's copy of
    the transcript: Twilio need not wait for it)."""

    twiml: str
    after: Callable[[], None] | None = None


@dataclass(frozen=True)
class CallParams:
    """What Twilio posted about the call (the fields Herald reads)."""

    call_sid: str
    answered_by: str = ""
    speech: str = ""
    confidence: float | None = None

    @classmethod
    def from_post(cls, post) -> CallParams:
        speech = " ".join((post.get("SpeechResult") or "").split())[:MAX_SPEECH_CHARS]
        try:
            confidence = min(max(float(post.get("Confidence") or ""), 0.0), 1.0)
        except ValueError:
            confidence = None
        return cls(
            call_sid=(post.get("CallSid") or "").strip()[:64],
            answered_by=(post.get("AnsweredBy") or "").strip().lower()[:32],
            speech=speech,
            confidence=confidence if speech else None,
        )


def voice_answer(*, message_id: str | None, params: CallParams) -> VoiceAnswer:
    """Turn 0: the TwiML of an answered call (the opening, a voicemail, or a hang-up)."""
    message = _message(message_id, params.call_sid)
    if message is None:
        logger.warning("Voice answer for a call that is not ours: %s", params.call_sid)
        return VoiceAnswer(_hang_up("", None))
    agent = message.campaign.agent if message.campaign_id and message.campaign else None
    found = voice_call_for(message, params)
    if found is None:
        return VoiceAnswer(_hang_up("", None))
    call, created = found
    if not created and (turn := call.turns.filter(number=0).first()) is not None:
        return VoiceAnswer(turn.twiml)
    # Asynchronous detection posts no AnsweredBy here, but its verdict may have come first.
    answered_by = params.answered_by or call.answered_by
    contact = Contact.objects.filter(pk=message.contact_id).first()
    if answered_by in MACHINE_END:
        twiml, ending, outcome = _hang_up(message.body, agent), "voicemail", "voicemail"
    elif answered_by in MACHINE_HANG_UP:
        twiml, ending, outcome = _hang_up("", agent), "machine", "machine"
    elif contact is not None and contact.is_opted_out:
        twiml, ending, outcome = _hang_up(OPTED_OUT_LINE, agent), "opted_out", "answered"
    elif not agent_converses(agent):
        twiml, ending, outcome = _hang_up(message.body, agent), "done", "answered"
    else:
        twiml, ending, outcome = (
            _listen(message.pk, 1, message.body, agent, contact),
            "",
            "answered",
        )
    try:
        _insert_once(
            VoiceTurn,
            call=call,
            number=0,
            reply=message.body if ending != "machine" else "",
            action=ending or "opening",
            twiml=twiml,
            answered_at=timezone.now(),
        )
    except IntegrityError:  # a replay won the race: answer what it stored
        return VoiceAnswer(call.turns.get(number=0).twiml)
    VoiceCall.objects.filter(pk=call.pk).update(outcome=outcome, answered_by=answered_by)
    if ending:
        _end(call, ending)
    if ending == "machine":
        return VoiceAnswer(twiml)
    voicemail = ending == "voicemail"
    return VoiceAnswer(
        twiml, lambda: _thread_open(call, message, contact, agent, voicemail=voicemail)
    )


def voice_call_for(message: Message, params: CallParams) -> tuple[VoiceCall, bool] | None:
    """(The call's row, whether this created it) on the call's first webhook (its answer, or
    the machine detection's verdict when that comes first); None when the sid is another
    message's."""
    agent = message.campaign.agent if message.campaign_id and message.campaign else None
    call, created = VoiceCall.objects.get_or_create(
        call_sid=params.call_sid,
        defaults={
            "workspace_id": message.workspace_id,
            "campaign_id": message.campaign_id,
            "message": message,
            "contact_id": message.contact_id,
            "agent": agent,
            "answered_by": params.answered_by,
        },
    )
    if call.message_id != message.pk:
        logger.warning("Webhook for call %s under another message", params.call_sid)
        return None
    return call, created


def voice_turn(*, message_id: str | None, number: str | None, params: CallParams) -> VoiceAnswer:
    """Turn n: the contact spoke (or did not); the TwiML that answers."""
    call = (  # the workspace for its AI budget, in the same query
        VoiceCall.objects.filter(call_sid=params.call_sid)
        .select_related("agent", "contact", "workspace")
        .first()
    )
    if (
        call is None
        or not (message_id or "").isdigit()
        or call.message_id != int(message_id)
        or not (number or "").isdigit()
        or not 1 <= int(number) <= 1000
    ):
        logger.warning("Voice turn for a call that is not ours: %s", params.call_sid)
        return VoiceAnswer(_hang_up("", None))
    number = int(number)
    if call.ended_at is not None:  # a replay of the last turn gets its TwiML again
        stored = call.turns.filter(number=number).first()
        return VoiceAnswer(stored.twiml if stored and stored.twiml else _hang_up("", None))
    try:
        turn = _insert_once(
            VoiceTurn, call=call, number=number, speech=params.speech, confidence=params.confidence
        )
    except IntegrityError:  # a replayed turn: the same answer, no second model call
        stored = call.turns.get(number=number)
        return VoiceAnswer(
            stored.twiml or _hold(_webhook_url("voice:turn", m=message_id, t=number))
        )
    twiml, action, ending = _answer(call, turn)
    VoiceTurn.objects.filter(pk=turn.pk).update(
        reply=turn.reply,
        action=action,
        twiml=twiml,
        answered_at=timezone.now(),
        model_ms=turn.model_ms,
        tokens=turn.tokens,
    )
    if ending:
        _end(call, ending)
    return VoiceAnswer(twiml, lambda: _thread_turn(call, turn, action))


def _insert_once(model, **fields):
    """INSERT one row, IntegrityError when a unique constraint refuses it. In autocommit (a
    webhook's request) the refused statement leaves nothing behind, so no transaction is
    opened: a savepoint only inside an outer transaction (tests, a caller's atomic block).
    That spares each turn a BEGIN and a COMMIT round trip."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return model.objects.create(**fields)
    return model.objects.create(**fields)


def _answer(call: VoiceCall, turn: VoiceTurn) -> tuple[str, str, str]:
    """(TwiML, the turn's action, the call's ending or "") for the contact's turn."""
    agent, contact = call.agent, call.contact
    if contact is None or contact.is_opted_out:
        turn.reply = OPTED_OUT_LINE
        return _hang_up(OPTED_OUT_LINE, agent), "opted_out", "opted_out"
    if not turn.speech:
        silent = call.silent_turns + 1
        VoiceCall.objects.filter(pk=call.pk).update(silent_turns=silent)
        if silent >= SILENT_TURNS_LIMIT:
            turn.reply = NO_SPEECH_GOODBYE
            return _hang_up(NO_SPEECH_GOODBYE, agent), "no_speech", "no_speech"
        turn.reply = NO_SPEECH_AGAIN
        return (
            _listen(call.message_id, turn.number + 1, NO_SPEECH_AGAIN, agent, contact),
            "no_speech",
            "",
        )
    if call.silent_turns:
        VoiceCall.objects.filter(pk=call.pk).update(silent_turns=0)
    if _near_limit(call, agent):
        turn.reply = WRAP_UP_LINE
        return _hang_up(WRAP_UP_LINE, agent), "wrap_up", "time_limit"
    if (spent := budget_spent(call.workspace)) is not None:
        _handoff(call, spent)
        turn.reply = HANDOFF_LINE
        return _hang_up(HANDOFF_LINE, agent), "handoff", "handoff"
    result = _decide(call, agent, contact)
    turn.model_ms, turn.tokens = result.latency_ms, result.total_tokens
    if not result.ok:
        _handoff(call, f"The model gave no answer during a call: {result.error}"[:500])
        turn.reply = FALLBACK_LINE
        return _hang_up(FALLBACK_LINE, agent), "fallback", "error"
    decision = result.decision
    if decision.action == "reply":
        turn.reply = decision.reply
        return (
            _listen(call.message_id, turn.number + 1, decision.reply, agent, contact),
            "reply",
            "",
        )
    if decision.action == "opt_out":
        contact_opt_out(contact=contact, reason="message", detail="Asked to stop on a call")
        turn.reply = OPT_OUT_LINE
        return _hang_up(OPT_OUT_LINE, agent), "opt_out", "opt_out"
    if decision.action == "handoff":
        _handoff(call, decision.reason or "The agent handed the call to a person.")
        turn.reply = HANDOFF_LINE
        return _hang_up(HANDOFF_LINE, agent), "handoff", "handoff"
    turn.reply = decision.reply or GOODBYE
    return _hang_up(turn.reply, agent), "end", "done"


def _near_limit(call: VoiceCall, agent) -> bool:
    """Whether the call would pass the agent's maximum duration (Twilio's time_limit cuts it
    off mid-sentence) before the next answer could be heard."""
    limit = agent.max_call_seconds if agent else 300
    elapsed = (timezone.now() - call.started_at).total_seconds()
    margin = settings.HERALD_VOICE_WRAP_UP_SECONDS + settings.HERALD_VOICE_MODEL_SECONDS
    return elapsed + margin >= limit


def _decide(call: VoiceCall, agent, contact) -> llm.ModelResult:
    turns: list[Turn] = []
    said = call.turns.order_by("number").values_list(
        "speech", "reply", "received_at", "answered_at"
    )
    for speech, reply, received_at, answered_at in said:
        if speech:
            turns.append(Turn("contact", speech, received_at))
        if reply:
            turns.append(Turn("agent", reply, answered_at or received_at))
    opening = turns[0].text if turns and turns[0].author == "agent" else ""
    context = context_build(
        agent=agent_brief(agent),
        channel="voice",
        max_reply_chars=MAX_REPLY_CHARS,
        campaign_message=opening,
        fields=contact_fields(contact),
        turns=turns,
        now=timezone.now(),
    )
    return llm.model_decide(
        messages=context.messages,
        limit=llm.ReplyLimit(max_chars=MAX_REPLY_CHARS, known_text=context.known_text),
        model=agent.model,
        deadline_seconds=settings.HERALD_VOICE_MODEL_SECONDS,
    )


def _handoff(call: VoiceCall, reason: str) -> None:
    VoiceCall.objects.filter(pk=call.pk).update(handoff=True, handoff_reason=reason)
    call.handoff, call.handoff_reason = True, reason


# The contact's thread: the call's transcript, as voice turns -----------------------------------


def _thread_open(call: VoiceCall, message: Message, contact, agent, *, voicemail: bool) -> None:
    """The call joins the contact's conversation with its opening (the campaign's message)."""
    if contact is None:
        return
    try:
        conversation = conversation_for(
            contact=contact,
            channel="voice",
            agent=agent,
            campaign=message.campaign,
            sender=message.sender,
        )
        VoiceCall.objects.filter(pk=call.pk).update(conversation=conversation)
        turn_append(
            conversation=conversation,
            direction="out",
            author="campaign",
            body=message.body,
            channel="voice",
            message=message,
        )
        if voicemail:
            turn_append(
                conversation=conversation,
                direction="event",
                author="system",
                body="An answering machine took the call: the opening was left as a voicemail.",
                channel="voice",
            )
    except Exception:  # the thread is a copy: the call goes on without it
        logger.exception("Could not add call %s to the contact's conversation", call.call_sid)


def _thread_turn(call: VoiceCall, turn: VoiceTurn, action: str) -> None:
    """The contact's words and the agent's answer join the thread (one INSERT, one UPDATE:
    this runs after every turn); a handoff hands the thread to a person, and an opt-out or
    the agent's end closes it (as for a text conversation)."""
    if call.conversation_id is not None:  # set once the opening joined the thread
        conversation = Conversation(pk=call.conversation_id, workspace_id=call.workspace_id)
    elif call.pk:
        conversation = Conversation.objects.filter(voice_calls=call.pk).first()
    else:
        conversation = None
    if conversation is None:
        return
    try:
        words = []
        if turn.speech:
            words.append(("in", "contact", turn.speech, turn.received_at))
        if turn.reply:
            words.append(("out", "agent", turn.reply, timezone.now()))
        turns_append(conversation=conversation, channel="voice", turns=words)
        if action in ("handoff", "fallback", "opt_out", "end"):
            conversation = Conversation.objects.get(pk=conversation.pk)
        if call.handoff and action in ("handoff", "fallback"):
            conversation_handoff(conversation=conversation, reason=call.handoff_reason)
        elif action == "opt_out":
            conversation_close(
                conversation=conversation, reason="The contact asked to stop on a call."
            )
        elif action == "end":
            conversation_close(conversation=conversation, reason="The agent ended the call.")
    except Exception:
        logger.exception("Could not add a turn of call %s to the conversation", call.call_sid)


def _end(call: VoiceCall, ending: str) -> None:
    """The agent hung up: the call ends now (Twilio's completed callback gives its length)."""
    ended = timezone.now()
    seconds = max(int((ended - call.started_at).total_seconds()), 0)
    VoiceCall.objects.filter(pk=call.pk, ended_at__isnull=True).update(
        ended_at=ended, ending=ending, duration_seconds=seconds
    )


def _message(message_id: str | None, call_sid: str) -> Message | None:
    """Our voice message for this call: by id from the signed URL, its sid the call's (or not
    yet stored: Twilio may fetch the TwiML before the send loop commits the sid)."""
    if not call_sid or not (message_id or "").isdigit():
        return None
    return (
        Message.objects.filter(
            pk=int(message_id), channel="voice", provider_message_id__in=["", call_sid]
        )
        .select_related("campaign__agent")
        .first()
    )


FINAL_CALL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}


def voice_call_status(*, call_sid: str, provider_status: str, duration: str) -> None:
    """The call's final status: it ended (the contact hung up, if the agent did not), and
    lasted Twilio's CallDuration."""
    if provider_status not in FINAL_CALL_STATUSES:
        return
    call = VoiceCall.objects.filter(call_sid=call_sid).first()
    if call is None:
        return
    now = timezone.now()
    seconds = int(duration) if duration.isdigit() else None
    if call.ended_at is None:
        VoiceCall.objects.filter(pk=call.pk, ended_at__isnull=True).update(
            ended_at=now,
            ending="hung_up",
            duration_seconds=seconds
            if seconds is not None
            else max(int((now - call.started_at).total_seconds()), 0),
        )
    elif seconds is not None:
        VoiceCall.objects.filter(pk=call.pk).update(duration_seconds=seconds)
