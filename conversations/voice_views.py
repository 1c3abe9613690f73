"""Twilio's voice webhooks of a conversing call (V6): answer, each turn, the call's status,
and the asynchronous machine detection's verdict.

Each is checked as messaging's webhooks are (body size 413, signature over PUBLIC_BASE_URL +
path and query + every posted field 403, nothing changes); the call's own TwiML is in
conversations/voice.py. A failure on our side answers 503: for a turn Twilio then tries the
fallback URL or ends the call, which is all it can do.
"""

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.delivery import callback_apply
from messaging.webhooks import status_fields, webhook_refusal

from .voice import CallParams, VoiceAnswer, voice_answer, voice_call_status, voice_turn
from .voice_machines import voice_machine_verdict

logger = logging.getLogger("herald.voice")


class TwimlResponse(HttpResponse):
    """TwiML, and work to do once it has been sent: the WSGI server calls close() after the
    body is written, so Twilio hears the answer without waiting for it. It runs before
    Django's own close (which ends the request and may close the database connection)."""

    def __init__(self, answer: VoiceAnswer):
        super().__init__(answer.twiml, content_type="text/xml")
        self.after = answer.after

    def close(self) -> None:
        try:
            if self.after is not None:
                self.after()
        except Exception:
            logger.exception("Voice webhook: the work after the answer failed")
        finally:
            self.after = None
            super().close()


def _unavailable(exc: Exception) -> HttpResponse:
    logger.error("Voice webhook failed on our side: %s", exc)
    return HttpResponse("Temporarily unavailable.", status=503, content_type="text/plain")


def _call_params(request: HttpRequest) -> CallParams | None:
    params = CallParams.from_post(request.POST)
    return params if params.call_sid else None


@csrf_exempt
@require_POST
def voice_answer_view(request: HttpRequest) -> HttpResponse:
    if (refused := webhook_refusal(request)) is not None:
        return refused
    if (params := _call_params(request)) is None:
        return HttpResponse("CallSid is required.", status=400)
    try:
        return TwimlResponse(voice_answer(message_id=request.GET.get("m"), params=params))
    except DatabaseError as exc:
        return _unavailable(exc)


@csrf_exempt
@require_POST
def voice_turn_view(request: HttpRequest) -> HttpResponse:
    if (refused := webhook_refusal(request)) is not None:
        return refused
    if (params := _call_params(request)) is None:
        return HttpResponse("CallSid is required.", status=400)
    try:
        answer = voice_turn(
            message_id=request.GET.get("m"), number=request.GET.get("t"), params=params
        )
    except DatabaseError as exc:
        return _unavailable(exc)
    return TwimlResponse(answer)


@csrf_exempt
@require_POST
def voice_status_view(request: HttpRequest) -> HttpResponse:
    """The call's status: the message's (as messaging's status webhook), then the call's end."""
    if (refused := webhook_refusal(request)) is not None:
        return refused
    if (fields := status_fields(request.POST)) is None:
        return HttpResponse("CallSid and CallStatus are required.", status=400)
    try:
        callback_apply(callback=fields, message_id=request.GET.get("m"))
        voice_call_status(
            call_sid=fields.sid,
            provider_status=fields.provider_status,
            duration=(request.POST.get("CallDuration") or "").strip(),
        )
    except DatabaseError as exc:
        return _unavailable(exc)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def voice_machine_view(request: HttpRequest) -> HttpResponse:
    """Asynchronous answering-machine detection's verdict (AsyncAmdStatusCallback)."""
    if (refused := webhook_refusal(request)) is not None:
        return refused
    if (params := _call_params(request)) is None:
        return HttpResponse("CallSid is required.", status=400)
    try:
        answer = voice_machine_verdict(message_id=request.GET.get("m"), params=params)
    except DatabaseError as exc:
        return _unavailable(exc)
    return TwimlResponse(answer)  # empty: Twilio reads only the status
