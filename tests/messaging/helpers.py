"""Signed Twilio webhook requests, built the way Twilio builds them."""

from django.conf import settings
from django.test import Client
from twilio.request_validator import RequestValidator


def signed_post(client: Client, path: str, params: dict, *, token: str | None = None, **extra):
    """POST form params to `path`, signed over PUBLIC_BASE_URL + path like Twilio does."""
    url = settings.PUBLIC_BASE_URL + path
    signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def status_params(sid: str, status: str, **more) -> dict:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15005550006",
        "To": "+14155550100",
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
        **more,
    }


def inbound_params(sid: str, *, body: str, from_: str, to: str, **more) -> dict:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        **more,
    }
