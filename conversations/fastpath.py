"""A conversing call's answer and turn webhooks, in front of Django's request handling (V6).

Each turn of an AI call waits for Herald: the contact has stopped speaking and hears nothing
until the TwiML comes back, so every millisecond here is silence on the phone. Django's
request cycle (request object, thirteen middleware, URL resolution, response) has nothing to
say about a signed Twilio webhook, so the WSGI application answers these two here: it parses
the form as the view would, checks the same signature (over PUBLIC_BASE_URL + path and query
+ every posted field) and calls the same functions (voice.voice_answer, voice.voice_turn),
which look the call up by its sid and the message id in the signed URL, as the view does. The
work after the answer (the thread's copy of the transcript) runs once the TwiML has been
sent, as with the view's TwimlResponse.

Everything else goes on to the view (voice_views.py, the reference; the voice tests run
against both), which answers it exactly as it always has: a bad or missing signature (403), a
malformed, oversized or over-many-fields body, no CallSid (400), another method or content
type, a script prefix. A database error answers 503 here, as the view does.

What this skips: sessions, CSRF (the views are exempt), users, workspaces (the call's own
rows carry theirs), messages, and the Host and HTTPS checks (the signature covers
PUBLIC_BASE_URL, never the Host header), as messaging's status callback fast path does.
"""

import io
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.urls import reverse
from django.utils.encoding import iri_to_uri

from messaging.fastpath import FORM, form_parse
from messaging.webhooks import MAX_WEBHOOK_BYTES, signature_valid

from .voice import CallParams, VoiceAnswer, voice_answer, voice_turn

logger = logging.getLogger("herald.voice")

TWIML = [("Content-Type", "text/xml")]  # what the view's HttpResponse(content_type=…) says


class _ThenAfter:
    """The response body; closing it (the WSGI server does, once the body is sent) runs the
    answer's after-work and then ends the request's use of the database."""

    def __init__(self, body: bytes, after: Callable[[], None] | None):
        self.body, self.after = body, after

    def __iter__(self):
        yield self.body

    def close(self) -> None:
        try:
            if self.after is not None:
                self.after()
        except Exception:
            logger.exception("Voice webhook: the work after the answer failed")
        finally:
            self.after = None
            close_old_connections()


class VoiceWebhookFastPath:
    """WSGI middleware: answers a signed answer or turn webhook, hands the rest to `app`."""

    def __init__(self, app):
        self.app = app
        self.paths = {reverse("voice:answer"): "answer", reverse("voice:turn"): "turn"}

    def __call__(self, environ, start_response):
        if (kind := self._wanted(environ)) is None:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        environ["wsgi.input"] = io.BytesIO(body)  # for the view, if it is handed on
        close_old_connections()  # what Django does at the start and end of every request
        try:
            answer = self._answer(kind, environ, body)
        except DatabaseError as exc:
            close_old_connections()
            logger.error("Voice webhook failed on our side: %s", exc)
            text = b"Temporarily unavailable."
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))],
            )
            return [text]
        except BaseException:
            close_old_connections()
            raise
        if answer is None:
            close_old_connections()
            return self.app(environ, start_response)
        twiml = answer.twiml.encode()
        start_response("200 OK", [*TWIML, ("Content-Length", str(len(twiml)))])
        return _ThenAfter(twiml, answer.after)

    def _wanted(self, environ) -> str | None:
        media, _, parameter = environ.get("CONTENT_TYPE", "").partition(";")
        kind = self.paths.get(environ.get("PATH_INFO", ""))
        if (
            kind is not None
            and environ.get("REQUEST_METHOD") == "POST"
            and not environ.get("SCRIPT_NAME")
            and not settings.FORCE_SCRIPT_NAME
            and media.strip().lower() == FORM
            and parameter.strip().lower() in ("", "charset=utf-8")
            and environ.get("CONTENT_LENGTH", "").isdigit()
            and 0 < int(environ["CONTENT_LENGTH"]) <= MAX_WEBHOOK_BYTES
        ):
            return kind
        return None

    def _answer(self, kind: str, environ, body: bytes) -> VoiceAnswer | None:
        """The webhook's answer, or None for the view to answer it."""
        try:
            params = form_parse(body)
        except ValueError:  # over DATA_UPLOAD_MAX_NUMBER_FIELDS: the view answers 413
            return None
        query = environ.get("QUERY_STRING", "")
        path = environ["PATH_INFO"] + ("?" + iri_to_uri(query) if query else "")
        signature = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
        if not signature_valid(settings.PUBLIC_BASE_URL + path, params, signature):
            return None  # the view logs it and answers 403
        call = CallParams.from_post(params)
        if not call.call_sid:
            return None  # 400
        get = dict(parse_qsl(query, keep_blank_values=True))  # the last value wins, as GET.get
        if kind == "answer":
            return voice_answer(message_id=get.get("m"), params=call)
        return voice_turn(message_id=get.get("m"), number=get.get("t"), params=call)
