"""Provider backends behind one interface (M1).

A backend sends one Message and says what happened:

* returns a SendResult (the provider accepted it; `status` is "sent", or "delivered" when the
  backend knows delivery at once, like the console backend);
* raises RetryableError: nothing was sent, trying again later may work (a 5xx that the
  provider documents as not accepted), after the campaign's retry interval, as an attempt;
* raises RateLimited (a RetryableError): nothing was sent because the provider refused the
  sender for now (429) or could not be reached; the sender is backed off, no attempt is used;
* raises PermanentError: nothing was sent and retrying will not help (invalid number,
  blocked, authentication refused); `opt_out` asks the engine to opt the contact out;
* raises UnknownOutcome: the request may or may not have been accepted (connection dropped
  after sending). The message becomes `unknown` and is never re-sent blindly: the engine
  later calls `reconcile(message)` which asks the provider what became of it.

Backends are chosen per channel by the settings HERALD_SMS_BACKEND, HERALD_VOICE_BACKEND and
HERALD_EMAIL_BACKEND: a short name registered in BACKENDS ("console", ...) or a dotted path to
a Backend subclass. The default is "console".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from messaging.models import Message


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str = ""
    status: str = "sent"  # "sent" or "delivered"
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """What the provider says about a message whose send outcome was unknown.

    status: a status of messaging.statuses.RANK (it was accepted: record it), "retry" (a call
    nobody answered: statuses.RETRY), "not_found" (the provider never got it: safe to send
    again), or "unknown" (ask later).
    """

    status: str
    provider_message_id: str = ""
    error_code: str = ""
    error: str = ""
    provider_status: str = ""  # as the provider says it (a call's "busy")


class SendError(Exception):
    """`account`: the error is the sending account's or number's (credentials, a suspended
    account, a number it does not own), not the message's: every message would meet it, so a
    campaign pauses with the reason instead of failing each one. `contact_code`: a provider
    error code that says something about the contact (messaging/provider_errors.py), applied
    by the engine after the call, on its own thread."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        opt_out: bool = False,
        account: bool = False,
        contact_code: int | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.opt_out = opt_out
        self.account = account
        self.contact_code = contact_code


class RetryableError(SendError):
    """Not sent; try again after the campaign's retry interval."""


class RateLimited(RetryableError):
    """Not sent: the provider refused the sender for now (a 429) or could not be reached
    before the request left. Not an attempt: every process backs the sender off (for
    `retry_after` seconds when the provider said) and the message waits, however long."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentError(SendError):
    """Not sent; never retry."""


class UnknownOutcome(SendError):
    """Maybe sent: mark `unknown`, reconcile later, never re-send blindly."""


class Backend:
    """Base class: subclasses set `name` and implement send(); reconcile() when they can.

    `concurrent`: send() waits on the network and touches no database, so the engine makes
    several calls at once on threads (messaging/provider_calls.py); else one at a time, on
    the send loop's thread (a call that takes microseconds gains nothing from a thread).
    """

    name = "base"
    concurrent = False

    def send(self, message: Message) -> SendResult:
        raise NotImplementedError

    def reconcile(self, message: Message) -> ReconcileResult:
        """Ask the provider about an `unknown` message. The default cannot know."""
        return ReconcileResult(status="unknown")


BACKENDS: dict[str, str] = {
    "console": "messaging.backends.console.ConsoleBackend",
    "twilio_sms": "messaging.backends.twilio_sms.TwilioSmsBackend",
    "twilio_voice": "messaging.backends.twilio_voice.TwilioVoiceBackend",
    "email": "messaging.backends.email.EmailBackend",
}

# The settings' documented values ("twilio", "smtp") name a provider; each channel has its class.
_CHANNEL_ALIASES = {
    ("sms", "twilio"): "twilio_sms",
    ("voice", "twilio"): "twilio_voice",
    ("email", "smtp"): "email",
}

_SETTING_FOR_CHANNEL = {
    "sms": "HERALD_SMS_BACKEND",
    "voice": "HERALD_VOICE_BACKEND",
    "email": "HERALD_EMAIL_BACKEND",
}


def backend_name(channel: str) -> str:
    return getattr(settings, _SETTING_FOR_CHANNEL[channel], "console") or "console"


def get_backend(channel: str) -> Backend:
    """The configured backend instance for a channel ("sms", "voice" or "email")."""
    name = backend_name(channel)
    return _load(_CHANNEL_ALIASES.get((channel, name), name))


@lru_cache(maxsize=16)
def _load(name: str) -> Backend:
    path = BACKENDS.get(name, name)
    return import_string(path)()


def reset_backends() -> None:
    """Forget loaded backends (tests that change settings call this)."""
    _load.cache_clear()
