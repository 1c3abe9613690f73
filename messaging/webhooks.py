"""Twilio webhooks (M4, M5): status callbacks and inbound SMS; and inbound email (issue 15).

Each request is checked in this order: body size (413), signature over PUBLIC_BASE_URL + the
path and query and every posted parameter (403, nothing changes), required fields (400). A
failure on our side (the database is down) answers 503 so that Twilio tries again; an unknown
MessageSid is acknowledged with 200 and logged, since retrying it would never succeed.
"""

import base64
import hashlib
import hmac
import logging
import time
from hmac import compare_digest

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from accounts.models import Workspace

from .delivery import StatusCallback, callback_apply
from .inbound import inbound_receive
from .inbound_email import UnknownRecipient, inbound_email_receive
from .mailparse import MailError, mail_from_form, mail_from_raw
from .statuses import from_twilio

logger = logging.getLogger("herald.webhooks")

MAX_WEBHOOK_BYTES = 64 * 1024  # Twilio's callbacks are a few hundred bytes; an SMS body < 2 KB


def signature_valid(url: str, params, signature: str) -> bool:
    """Whether Twilio signed these params posted to `url` (PUBLIC_BASE_URL + path and query).

    twilio's RequestValidator; the exact URL is tried first because validate() always
    computes two HMACs (with and without the default port) and this runs on every callback."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    expected = validator.compute_signature(url, params)
    if compare_digest(expected.encode(), signature.encode()):
        return True
    return validator.validate(url, params, signature)


def status_fields(post) -> StatusCallback | None:
    """A status callback's fields (a call's when it has a CallStatus), or None when it lacks
    its sid or status."""
    sid = post.get("MessageSid") or post.get("CallSid") or ""
    call = bool(post.get("CallStatus")) and not post.get("MessageStatus")
    provider_status = (post.get("MessageStatus") or post.get("CallStatus") or "").strip().lower()
    if not sid or not provider_status or len(sid) > 64:
        return None
    status = from_twilio(provider_status, call=call)
    return StatusCallback(sid, provider_status, status, post.get("ErrorCode", ""))


def webhook_refusal(request: HttpRequest) -> HttpResponse | None:
    """A response refusing the request, or None when it is a genuine Twilio request."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain")
    if length > MAX_WEBHOOK_BYTES:
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    try:
        params = request.POST
    except (RequestDataTooBig, TooManyFieldsSent):
        return HttpResponse("Request body too large.", status=413, content_type="text/plain")
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    if not signature_valid(url, params, signature):
        logger.warning("Rejected webhook with a missing or invalid signature: %s", url)
        return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
    return None


def _unavailable(exc: Exception) -> HttpResponse:
    logger.error("Webhook failed on our side, Twilio will retry: %s", exc)
    response = HttpResponse("Temporarily unavailable.", status=503, content_type="text/plain")
    response["Retry-After"] = "30"
    return response


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if (refused := webhook_refusal(request)) is not None:
        return refused
    if (fields := status_fields(request.POST)) is None:
        return HttpResponse("MessageSid and MessageStatus are required.", status=400)
    try:
        outcome = callback_apply(callback=fields, message_id=request.GET.get("m"))
    except DatabaseError as exc:
        return _unavailable(exc)
    if not outcome.found:
        logger.warning(
            "Status %s for unknown sid %s: acknowledged, ignored",
            fields.provider_status,
            fields.sid,
        )
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if (refused := webhook_refusal(request)) is not None:
        return refused
    post = request.POST
    sid = post.get("MessageSid") or post.get("SmsSid") or ""
    sender, recipient = post.get("From", "").strip(), post.get("To", "").strip()
    if not sid or not sender or not recipient or len(sid) > 64:
        return HttpResponse("MessageSid, From and To are required.", status=400)
    try:
        result = inbound_receive(
            to_address=recipient,
            from_address=sender,
            body=post.get("Body", ""),
            sid=sid,
            opt_out_type=post.get("OptOutType", ""),
        )
    except DatabaseError as exc:
        return _unavailable(exc)
    twiml = MessagingResponse()
    if result.reply:
        twiml.message(result.reply)
    return HttpResponse(str(twiml), content_type="text/xml")


# Inbound email (issue 15) -------------------------------------------------------------------


def email_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `v1` signature of an inbound email request: HMAC-SHA256 under the workspace's
    secret of "<timestamp>.<raw body>", hex (the Stripe / Standard Webhooks construction)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _email_authentic(request: HttpRequest, secret: str, body: bytes) -> bool:
    """Signed (X-Herald-Signature: t=<unix time>,v1=<hex>, within the tolerance), or, for a
    provider that can only put credentials in the URL, HTTP Basic auth with the secret as the
    password (over HTTPS)."""
    header = request.headers.get("X-Herald-Signature", "")
    if header:
        parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
        timestamp, given = (
            parts.get("t", ""),
            [v.split("=", 1)[1] for v in header.split(",") if v.strip().startswith("v1=")],
        )
        if not timestamp.isdigit() or not given:
            return False
        tolerance = settings.HERALD_INBOUND_EMAIL_TOLERANCE_SECONDS
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
        expected = email_signature(secret, timestamp, body)
        return any(compare_digest(expected, v.strip()) for v in given)
    authorization = request.headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            _, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return compare_digest(password.encode(), secret.encode())
    return False


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _email_refusal(request: HttpRequest, workspace) -> HttpResponse | None:
    if workspace is None or not workspace.inbound_email_secret:
        return _text("No inbound email endpoint here.", 404)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _text("Bad Content-Length.", 400)
    if length > settings.HERALD_INBOUND_EMAIL_MAX_BYTES:
        return _text("Email too large.", 413)
    try:
        body = request.body
    except RequestDataTooBig:
        return _text("Email too large.", 413)
    if not _email_authentic(request, workspace.inbound_email_secret, body):
        logger.warning("Rejected inbound email for workspace %s: bad signature", workspace.pk)
        return _text("Invalid signature.", 403)
    return None


def _mail(request: HttpRequest):
    content_type = request.content_type or ""
    if not request.body.strip():
        raise MailError("The email is empty.")
    if content_type in ("message/rfc822", "text/plain", "application/octet-stream"):
        return mail_from_raw(request.body)
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            return mail_from_form(request.POST)
        except (RequestDataTooBig, TooManyFieldsSent, MultiPartParserError) as exc:
            raise MailError(f"The form could not be read: {exc}") from exc
    raise MailError("Post the email as message/rfc822 or as an inbound-parse form.")


@csrf_exempt
@require_POST
def email_inbound(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """A reply to one of our emails, posted by the mail provider or a relay (see
    messaging/inbound_email.py): 200 once stored (or knowingly dropped), 4xx with the reason
    when it can never be stored, 503 when we failed and a retry may work."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if (refused := _email_refusal(request, workspace)) is not None:
        return refused
    try:
        mail = _mail(request)
    except MailError as exc:
        return _text(str(exc), 400)
    try:
        result = inbound_email_receive(workspace=workspace, mail=mail)
    except UnknownRecipient as exc:
        return _text(f"Unknown recipient. {exc}", 422)
    except DatabaseError as exc:
        return _unavailable(exc)
    messages = {
        "stored": "Stored.",
        "duplicate": "Already stored.",
        "automatic": "Dropped: an automatic email (auto-reply, bounce or list).",
        "unknown_sender": "Dropped: the sender is not a contact of this workspace.",
    }
    return _text(messages[result.outcome], 200)
