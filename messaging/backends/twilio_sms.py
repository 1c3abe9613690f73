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
from django.utils import timezone
from twilio.base.exceptions import TwilioException, TwilioRestException

from messaging.provider_errors import contact_reason_for_error
from messaging.twilio_client import last_retry_after, twilio_client

from . import Backend, PermanentError, RateLimited, ReconcileResult, SendResult, UnknownOutcome

logger = logging.getLogger("herald.twilio")

# Clock skew allowed between us and Twilio when matching records to an unknown message.
RECONCILE_SLACK = timedelta(minutes=5)
# How long a send must have been unknown before Twilio's silence means it never arrived.
RECONCILE_SETTLE = timedelta(minutes=2)


def status_callback_url(message) -> str:
    """Where Twilio posts status updates; the message id lets an early callback find its row."""
    return f"{settings.PUBLIC_BASE_URL}{reverse('messaging:twilio-status')}?m={message.pk}"


# Errors of the account or the sending number, not of the message: wrong credentials (20003),
# account suspended or closed (20005), the From number is not the account's or cannot send
# SMS (21606, 21212, 21659, 21660), a trial account's unverified recipient (21608).
ACCOUNT_ERROR_CODES = frozenset({20003, 20005, 21212, 21606, 21608, 21659, 21660})


def twilio_send_error(exc: Exception) -> Exception:
    """The backend error for a failed Twilio REST call (never raises it itself)."""
    if isinstance(exc, TwilioRestException):
        code = exc.code or exc.status
        text = f"Twilio {exc.status} (code {code}): {exc.msg}"
        if exc.status == 429:  # never processed: back the sender off, not an attempt
            return RateLimited(text, code=str(code), retry_after=last_retry_after())
        if exc.status >= 500:
            return UnknownOutcome(text, code=str(code))
        # The engine opts the contact out with the code's own reason (not its default).
        contact_code = code if isinstance(code, int) and contact_reason_for_error(code) else None
        return PermanentError(
            text, code=str(code), account=code in ACCOUNT_ERROR_CODES, contact_code=contact_code
        )
    if isinstance(exc, requests.ConnectTimeout):
        return RateLimited(f"Twilio unreachable: {exc}", code="connect_timeout")
    if isinstance(exc, requests.ConnectionError) and "NewConnectionError" in repr(exc):
        return RateLimited(f"Twilio unreachable: {exc}", code="connect_error")
    # A read timeout or a dropped connection: the request may have been processed.
    return UnknownOutcome(f"No answer from Twilio: {exc}", code="timeout")


def twilio_reconcile(resources, message, kind: str) -> ReconcileResult:
    """Adopt the Twilio record that is this message, or say there is none.

    `resources` are Twilio's Messages or Calls for (To, From) since the message became due.
    A record is this message when it was created after the message was due, is not already
    another message's, and (for SMS) has the same body; the oldest such record wins.
    """
    from messaging.models import Message
    from messaging.statuses import from_twilio

    earliest = message.send_after - RECONCILE_SLACK
    candidates = [
        r
        for r in resources
        if (r.date_created is None or r.date_created >= earliest)
        and (kind != "sms" or (r.body or "") == message.body)
    ]
    taken = set(
        Message.objects.filter(provider_message_id__in=[r.sid for r in candidates])
        .exclude(pk=message.pk)
        .values_list("provider_message_id", flat=True)
    )
    candidates = [r for r in candidates if r.sid not in taken]
    if not candidates:
        # Twilio's list may lag just behind a create; "never got it" (which lets the engine
        # send again) is only concluded once the outcome has been unknown for a while.
        if timezone.now() - message.updated_at < RECONCILE_SETTLE:
            return ReconcileResult(status="unknown")
        return ReconcileResult(status="not_found")
    found = min(candidates, key=lambda r: (r.date_created is None, r.date_created))
    # A record in a status we do not know was still accepted by Twilio: sent.
    status = from_twilio(found.status or "", call=kind != "sms") or "sent"
    return ReconcileResult(
        status=status,
        provider_message_id=found.sid,
        error_code=str(getattr(found, "error_code", "") or ""),
        provider_status=found.status or "",
    )


# How many of Twilio's most recent records for (To, From) reconciliation reads. Twilio's list
# filters only by DateSent (calls: StartTime), which a message still queued at Twilio does
# not have yet, so the list is not filtered by date: records are matched by creation time.
RECONCILE_PAGE = 100
# What a failed list raises: TwilioRestException for an error answer it could parse, the
# bare TwilioException ("Unable to fetch page") for a list page that came back non-200.
LIST_ERRORS = (TwilioException, requests.RequestException)


class TwilioSmsBackend(Backend):
    name = "twilio_sms"
    concurrent = True  # one HTTP request; what an error means for the contact is the engine's

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
                to=message.to_address, from_=message.sender.address, limit=RECONCILE_PAGE
            )
        except LIST_ERRORS as exc:
            logger.warning("Reconciling message %s failed: %s", message.pk, exc)
            return ReconcileResult(status="unknown", error=str(exc))
        return twilio_reconcile(found, message, "sms")
