"""Play a call the fake Twilio placed, as Twilio would (V6).

`CallPlayer(fake, transport).play(sid, speech=[...])`:

1. posts the call's `initiated` and `ringing` status callbacks (when asked for), then either
   the final status of an unanswered call (`busy`, `no-answer`, `failed`), or
2. answers it: fetches the call's `Url` (POST, signed, with `AnsweredBy` when machine
   detection was asked for) or reads its inline `Twiml`, then follows the TwiML: `<Say>` is
   heard, `<Gather input="speech">` posts its `action` with the next scripted utterance
   (`SpeechResult`, `Confidence`; an empty or None entry posts no speech, as
   `actionOnEmptyResult` does), `<Redirect>` posts its URL, `<Hangup/>` or the end of the
   document ends the call; when the script runs out while the agent listens, the contact hangs
   up;
3. posts the `completed` status callback with `CallDuration` and `AnsweredBy`.

Every request is signed with the account's auth token over PUBLIC_BASE_URL + path and query,
exactly like Twilio signs; `transport(path_and_query, params, signature) -> (status, body)`
delivers it (Django's test client in unit tests, HTTP to a live server in end-to-end tests).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from .twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

Transport = Callable[[str, dict, str], tuple[int, str]]
MAX_STEPS = 200


@dataclass
class Exchange:
    """One TwiML document the call received, and what the contact answered to it."""

    url: str
    status: int
    twiml: str
    said: list[str] = field(default_factory=list)
    answered: str | None = None


@dataclass
class PlayedCall:
    sid: str
    exchanges: list[Exchange] = field(default_factory=list)
    hung_up_by: str = ""  # "agent", "contact" or "" when never answered
    verdict: int | None = None  # the AMD callback's HTTP status (asynchronous detection)
    callbacks: list[tuple[str, int]] = field(default_factory=list)

    @property
    def said(self) -> list[str]:
        """Everything the agent said, in order."""
        return [text for exchange in self.exchanges for text in exchange.said]


def django_transport(client) -> Transport:
    """Deliver through Django's test client (PUBLIC_BASE_URL is only signed, not dialled)."""

    def send(path: str, params: dict, signature: str) -> tuple[int, str]:
        response = client.post(
            path,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature,
        )
        return response.status_code, response.content.decode()

    return send


def wsgi_transport(client) -> Transport:
    """Deliver through config.wsgi's application (tests.messaging.helpers.WsgiClient), so the
    voice webhooks' fast path answers what it answers, as under gunicorn."""

    def send(path: str, params: dict, signature: str) -> tuple[int, str]:
        response = client.post(
            path,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature,
        )
        return response.status_code, response.content.decode()

    return send


def http_transport(base_url: str, timeout: float = 20.0) -> Transport:
    """Deliver over HTTP to a live server at `base_url` (e.g. http://127.0.0.1:8201)."""
    session = requests.Session()

    def send(path: str, params: dict, signature: str) -> tuple[int, str]:
        response = session.post(
            base_url + path,
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=timeout,
        )
        return response.status_code, response.text

    return send


class CallPlayer:
    def __init__(
        self,
        fake: FakeTwilio,
        transport: Transport,
        *,
        public_base_url: str = "https://herald.example.com",
        auth_token: str = AUTH_TOKEN,
    ):
        self.fake = fake
        self.transport = transport
        self.public_base_url = public_base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)

    def post(self, url: str, params: dict) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        signature = self.validator.compute_signature(self.public_base_url + path, params)
        return self.transport(path, params, signature)

    def play(
        self,
        sid: str,
        *,
        speech: list[str | tuple[str, float] | None] = (),
        answered_by: str = "human",
        outcome: str = "completed",
        verdict_first: bool = False,
    ) -> PlayedCall:
        """Play the call to its end. `answered_by`: human, machine_end_beep, machine_start,
        fax, unknown…; `outcome` other than completed (busy, no-answer, failed): nobody
        answers and only the status callbacks are sent.

        With asynchronous machine detection (AsyncAmd=true), the TwiML request carries no
        AnsweredBy; the verdict is posted to the AMD callback once the first TwiML has come
        (before it, with `verdict_first`), and a call the application updated meanwhile
        (POST /Calls/{sid}.json with Twiml) runs the new TwiML instead."""
        call = self.fake.calls[sid]
        played = PlayedCall(sid)
        script = list(speech)
        started = time.monotonic()
        base = {
            "CallSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": call["from"],
            "To": call["to"],
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }
        for event in ("initiated", "ringing"):
            self._callback(played, call, event, base | {"CallStatus": event})
        if outcome != "completed":
            self._callback(played, call, "completed", base | {"CallStatus": outcome}, final=True)
            return played
        self._callback(played, call, "answered", base | {"CallStatus": "in-progress"})
        detected = {"AnsweredBy": answered_by} if call.get("_machine_detection") else {}
        asynchronous = bool(detected and call.get("_async_amd") and call.get("_amd_callback"))
        answered = {} if asynchronous else detected
        params = base | {"CallStatus": "in-progress"} | answered
        if asynchronous and verdict_first:
            self._verdict(played, call, base, answered_by)
        if call.get("_url"):
            status, twiml = self.post(call["_url"], params)
            url = call["_url"]
        else:
            status, twiml, url = 200, call.get("_twiml") or "", "(inline)"
        if asynchronous and not verdict_first:
            self._verdict(played, call, base, answered_by)
        if asynchronous and call.get("_updates"):
            status, twiml, url = 200, call["_updates"][-1]["Twiml"] or "", "(updated)"
        for _ in range(MAX_STEPS):
            exchange = Exchange(url, status, twiml)
            played.exchanges.append(exchange)
            if status != 200:
                played.hung_up_by = "agent"  # Twilio's "application error", then it hangs up
                break
            following = self._follow(exchange, script)
            if following is None:
                played.hung_up_by = played.hung_up_by or "agent"
                break
            if following == "contact":
                played.hung_up_by = "contact"
                break
            url, extra = following
            status, twiml = self.post(url, params | extra)
        duration = str(max(int(time.monotonic() - started), 1))
        final = base | {"CallStatus": "completed", "CallDuration": duration} | detected
        self._callback(played, call, "completed", final, final=True)
        return played

    def _follow(self, exchange: Exchange, script: list):
        """Run one TwiML document: None (it hung up or ended), "contact" (the contact hung up
        while the agent listened), or (the next URL, the extra fields to post)."""
        root = ET.fromstring(exchange.twiml)
        for verb in root:
            if verb.tag == "Say":
                exchange.said.append(verb.text or "")
            elif verb.tag == "Gather":
                exchange.said += [child.text or "" for child in verb if child.tag == "Say"]
                if not script:
                    return "contact"
                answer = script.pop(0)
                if isinstance(answer, tuple):
                    text, confidence = answer
                else:
                    text, confidence = answer or "", 0.92
                exchange.answered = text
                extra = {"SpeechResult": text, "Confidence": str(confidence)} if text else {}
                return verb.get("action"), extra
            elif verb.tag == "Redirect":
                return (verb.text or "").strip(), {}
            elif verb.tag == "Hangup":
                return None
        return None

    def _verdict(self, played, call, base: dict, answered_by: str) -> None:
        """Asynchronous machine detection's verdict, posted to the AMD callback."""
        params = {
            "CallSid": base["CallSid"],
            "AccountSid": base["AccountSid"],
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": "2400",
        }
        played.verdict, _ = self.post(call["_amd_callback"], params)

    def _callback(self, played, call, event, params, *, final=False) -> None:
        url = call.get("_status_callback")
        if not url or (not final and event not in call.get("_events", [])):
            return
        status, _ = self.post(url, params)
        played.callbacks.append((params["CallStatus"], status))
