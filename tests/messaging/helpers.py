"""Signed Twilio webhook requests, built the way Twilio builds them."""

from types import SimpleNamespace
from unittest import mock
from urllib.parse import urlencode

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory
from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"


def signed_post(client: Client, path: str, params: dict, *, token: str | None = None, **extra):
    """POST params to `path` as Twilio does: form-encoded, signed over PUBLIC_BASE_URL + path."""
    url = settings.PUBLIC_BASE_URL + path
    signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    body = urlencode(params, doseq=True)
    return client.post(path, body, content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


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


class WsgiClient:
    """Requests through config.wsgi's application, the one gunicorn serves, so that the status
    callback's, the link redirect's and the voice webhooks' fast paths (messaging.fastpath,
    engagement.fastpath, conversations.fastpath) run in front of Django. Like the test client,
    it keeps the test's database connection open across the request."""

    def __init__(self):
        from config.wsgi import application

        self.application = application
        self.factory = RequestFactory()

    def post(self, path: str, data: dict | None = None, **extra) -> SimpleNamespace:
        return self._call(self.factory.post(path, data or {}, **extra).environ)

    def get(self, path: str, **extra) -> SimpleNamespace:
        return self._call(self.factory.get(path, **extra).environ)

    def head(self, path: str, **extra) -> SimpleNamespace:
        return self._call(self.factory.head(path, **extra).environ)

    def _call(self, environ: dict) -> SimpleNamespace:
        answer = SimpleNamespace()

        def start_response(status: str, headers: list, exc_info=None):
            answer.status_code = int(status.split()[0])
            answer.headers = dict(headers)

        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            with (
                mock.patch("messaging.fastpath.close_old_connections"),
                mock.patch("engagement.fastpath.close_old_connections"),
                mock.patch("conversations.fastpath.close_old_connections"),
            ):
                result = self.application(environ, start_response)
                answer.content = b"".join(result)
                if hasattr(result, "close"):
                    result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return answer
