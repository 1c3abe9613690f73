"""Voice calls through Twilio's Calls API: TwiML that says the agent's opening message (M1).

The message body is the opening message already rendered for the contact; the agent gives
the voice and the maximum call duration (`time_limit`). Call statuses arrive at the same
status webhook: completed → delivered, busy/no-answer → retried, failed/canceled → failed.

When an app above answers the `call` hook (conversations, for an agent that converses: V6),
its parameters replace the inline TwiML: a `url` Twilio fetches the call's TwiML from, turn
after turn, answering-machine detection, and that app's own status callback.
"""

import logging

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from messaging import hooks
from messaging.twilio_client import twilio_client

from . import Backend, PermanentError, ReconcileResult, SendResult
from .twilio_sms import (
    LIST_ERRORS,
    RECONCILE_PAGE,
    status_callback_url,
    twilio_reconcile,
    twilio_send_error,
)

logger = logging.getLogger("herald.twilio")

CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


def call_twiml(message) -> str:
    agent = message.campaign.agent if message.campaign_id and message.campaign else None
    response = VoiceResponse()
    response.say(message.body, voice=agent.voice if agent else None)
    return str(response)


class TwilioVoiceBackend(Backend):
    name = "twilio_voice"

    def send(self, message) -> SendResult:
        if not message.sender_id or not message.sender:
            raise PermanentError("The campaign has no caller ID number.", code="no_sender")
        agent = message.campaign.agent if message.campaign_id and message.campaign else None
        params = {
            "twiml": call_twiml(message),
            "status_callback": status_callback_url(message),
        }
        params.update(hooks.ask("call", message=message) or {})
        if "url" in params:
            del params["twiml"]  # Twilio ignores twiml next to a url; send one
        try:
            call = twilio_client().calls.create(
                to=message.to_address,
                from_=message.sender.address,
                time_limit=agent.max_call_seconds if agent else 300,
                status_callback_event=CALL_EVENTS,
                status_callback_method="POST",
                **params,
            )
        except (TwilioRestException, requests.RequestException) as exc:
            raise twilio_send_error(exc) from exc
        return SendResult(provider_message_id=call.sid, status="sent")

    def reconcile(self, message) -> ReconcileResult:
        if not message.sender_id:
            return ReconcileResult(status="not_found")
        try:
            found = twilio_client().calls.list(
                to=message.to_address, from_=message.sender.address, limit=RECONCILE_PAGE
            )
        except LIST_ERRORS as exc:
            logger.warning("Reconciling call %s failed: %s", message.pk, exc)
            return ReconcileResult(status="unknown", error=str(exc))
        return twilio_reconcile(found, message, "voice")
