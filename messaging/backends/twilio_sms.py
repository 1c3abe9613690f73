"""SMS through Twilio's Messages API with the real `twilio` client (M1, M3).

Error handling follows Twilio's own guidance (reliability.md 1.1): a 429 was never processed
and is always safe to retry; a 5xx or a read timeout may have sent the message, so it is an
unknown outcome that reconciliation settles by listing messages (To, From, date) at Twilio.
"""

import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException

from messaging.twilio_client import twilio_client

from . import Backend, PermanentError, ReconcileResult, RetryableError, SendResult, UnknownOutcome

logger = logging.getLogger("herald.twilio")

# Twilio error codes with a meaning for the contact (see docs/messaging in README).
INVALID_NUMBER_CODES = frozenset({21211, 21614})  # invalid / not a mobile number
OPTED_OUT_CODE = 21610  # the number replied STOP to this sender at Twilio
CARRIER_FAILURE_CODES = frozenset({30003, 30004, 30005, 30006})

# Twilio message statuses that mean "accepted, on its way" when reconciling.
_IN_FLIGHT = {"accepted", "scheduled", "queued", "sending", "sent"}


def status_callback_url(message) -> str:
    """Where Twilio posts status updates; the message id lets an early callback find its row."""
    return f"{settings.PUBLIC_BASE_URL}{reverse('messaging:twilio-status')}?m={message.pk}"


def twilio_send_error(exc: Exception) -> Exception:
    """The backend error for a failed Twilio REST call (never raises it itself)."""
    if isinstance(exc, TwilioRestException):
        code = exc.code or exc.status
        text = f"Twilio {exc.status} (code {code}): {exc.msg}"
        if exc.status == 429:
            return RetryableError(text, code=str(code))
        if exc.status >= 500:
            return UnknownOutcome(text, code=str(code))
        if code == OPTED_OUT_CODE:
            return PermanentError(text, code=str(code), opt_out=True)
        if code in INVALID_NUMBER_CODES:
            return PermanentError(text, code=str(code), opt_out=True)
        return PermanentError(text, code=str(code))
    if isinstance(exc, requests.ConnectTimeout):
        return RetryableError(f"Twilio unreachable: {exc}", code="connect_timeout")
    if isinstance(exc, requests.ConnectionError) and "NewConnectionError" in repr(exc):
        return RetryableError(f"Twilio unreachable: {exc}", code="connect_error")
    # A read timeout or a dropped connection: the request may have been processed.
    return UnknownOutcome(f"No answer from Twilio: {exc}", code="timeout")


def _map_status(status: str) -> str:
    if status in ("delivered", "read"):
        return status
    if status in ("undelivered", "failed", "canceled"):
        return "failed" if status != "undelivered" else "undelivered"
    return "sent"


def twilio_reconcile(resources, message, kind: str) -> ReconcileResult:
    """Adopt the one Twilio record that matches the message, or say there is none.

    `resources` are Twilio's Messages or Calls for (To, From, since the first attempt).
    Several candidates (the same contact texted twice that day) are told apart by body.
    """
    candidates = list(resources)
    if kind == "sms":
        candidates = [r for r in candidates if (r.body or "") == message.body] or candidates
    if not candidates:
        return ReconcileResult(status="not_found")
    found = candidates[-1]  # the oldest: Twilio lists newest first
    status = _map_status(found.status) if kind == "sms" else _map_call_status(found.status)
    return ReconcileResult(
        status=status,
        provider_message_id=found.sid,
        error_code=str(getattr(found, "error_code", "") or ""),
    )


def _map_call_status(status: str) -> str:
    return {"completed": "delivered", "failed": "failed", "canceled": "failed"}.get(status, "sent")


def reconcile_since(message):
    start = message.created_at - timedelta(days=1)
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


class TwilioSmsBackend(Backend):
    name = "twilio_sms"

    def send(self, message) -> SendResult:
        if not message.sender_id or not message.sender:
            raise PermanentError("The campaign has no SMS sender number.", code="no_sender")
        try:
            created = twilio_client().messages.create(
                to=message.to_address,
                from_=message.sender.address,
                body=message.body,
                status_callback=status_callback_url(message),
            )
        except (TwilioRestException, requests.RequestException) as exc:
            raise twilio_send_error(exc) from exc
        status = "failed" if created.status == "failed" else "sent"
        return SendResult(provider_message_id=created.sid, status=status)

    def reconcile(self, message) -> ReconcileResult:
        if not message.sender_id:
            return ReconcileResult(status="not_found")
        try:
            found = twilio_client().messages.list(
                to=message.to_address,
                from_=message.sender.address,
                date_sent_after=reconcile_since(message),
                limit=50,
            )
        except (TwilioRestException, requests.RequestException) as exc:
            logger.warning("Reconciling message %s failed: %s", message.pk, exc)
            return ReconcileResult(status="unknown", error=str(exc))
        return twilio_reconcile(found, message, "sms")
