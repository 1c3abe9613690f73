"""Asynchronous answering-machine detection of a conversing call (V6).

A conversing call is placed with `AsyncAmd=true` (voice.call_parameters): Twilio fetches the
call's TwiML as soon as it is answered, without `AnsweredBy`, so a person hears the opening
at once instead of silence while detection listens. Detection goes on beside the call and
Twilio posts its verdict to the AMD callback (signed like every voice webhook): `CallSid`,
`AccountSid`, `AnsweredBy` (human, machine_start, machine_end_beep, machine_end_silence,
machine_end_other, fax, unknown) and `MachineDetectionDuration` (ms). Since the call is already
running its TwiML, a verdict that changes the plan changes the call through the Calls API
(`calls(sid).update(twiml=…)`), as Twilio's async AMD guide says:

- a machine at the end of its greeting (machine_end_*, DetectMessageEnd) → the opening is left
  as a voicemail and the call hangs up (outcome and ending `voicemail`);
- a machine at the start, or a fax → hang up (outcome and ending `machine`);
- a person or unknown → the conversation goes on; the verdict is stored.

A verdict that arrives before the answer webhook (Twilio does not promise the order) is
stored on the call, and the answer webhook follows it as it would a synchronous one. A
repeated verdict, or one for a call that has already ended, changes nothing but the stored
verdict; a call that is not ours is acknowledged and ignored.
"""

from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioRestException

from messaging.twilio_client import twilio_client

from .models import VoiceCall, VoiceTurn
from .voice import (
    MACHINE_END,
    MACHINE_HANG_UP,
    CallParams,
    VoiceAnswer,
    _end,
    _hang_up,
    _message,
    _thread_open,
    voice_call_for,
)

logger = logging.getLogger("herald.voice")


def voice_machine_verdict(*, message_id: str | None, params: CallParams) -> VoiceAnswer:
    """The AMD callback: store the verdict and, for a machine, redirect the running call.
    The answer's TwiML is empty (Twilio only reads the status); its after-work is none."""
    message = _message(message_id, params.call_sid)
    if message is None or not params.answered_by:
        logger.warning("AMD verdict for a call that is not ours: %s", params.call_sid)
        return VoiceAnswer("")
    found = voice_call_for(message, params)
    if found is None:
        return VoiceAnswer("")
    call, _created = found
    agent = call.agent
    stored = VoiceCall.objects.filter(pk=call.pk).update(answered_by=params.answered_by)
    if not stored or call.ended_at is not None:
        return VoiceAnswer("")
    if params.answered_by in MACHINE_END:
        twiml, ending = _hang_up(message.body, agent), "voicemail"
    elif params.answered_by in MACHINE_HANG_UP:
        twiml, ending = _hang_up("", agent), "machine"
    else:
        return VoiceAnswer("")  # a person, or detection could not tell: the call goes on
    if not call.turns.filter(number=0).exists():
        return VoiceAnswer("")  # the answer webhook has not come yet: it reads the verdict
    try:
        twilio_client().calls(params.call_sid).update(twiml=twiml)
    except (TwilioRestException, requests.RequestException) as exc:
        logger.warning("Could not redirect call %s to %s: %s", params.call_sid, ending, exc)
        return VoiceAnswer("")
    VoiceTurn.objects.filter(call=call, number=0).update(
        action=ending, reply=message.body if ending == "voicemail" else "", twiml=twiml
    )
    VoiceCall.objects.filter(pk=call.pk).update(outcome=ending, answered_by=params.answered_by)
    _end(call, ending)
    if ending != "voicemail":
        return VoiceAnswer("")
    contact = call.contact
    return VoiceAnswer("", lambda: _thread_open(call, message, contact, agent, voicemail=True))
