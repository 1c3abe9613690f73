"""The real `twilio` REST client, optionally pointed at another server (TWILIO_API_BASE_URL).

Tests and staging run the unmodified twilio library against a server that speaks Twilio's
REST API; only the scheme and host of each request change (libraries.md 1.4, option B).
"""

from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every request to `base_url` instead of https://*.twilio.com, path unchanged."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )
        return super().request(method, url, *args, **kwargs)


@lru_cache(maxsize=4)
def _client(sid: str, token: str, base_url: str, timeout: float) -> Client:
    if base_url:
        http_client = RedirectingHttpClient(base_url, timeout=timeout)
    else:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(sid, token, http_client=http_client)


def twilio_client() -> Client:
    """One pooled client per credential set (the settings may change between tests)."""
    if not settings.TWILIO_ACCOUNT_SID or not settings.TWILIO_AUTH_TOKEN:
        raise ImproperlyConfigured(
            "Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to send with Twilio."
        )
    return _client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_API_BASE_URL,
        settings.TWILIO_TIMEOUT_SECONDS,
    )


def twilio_account_has_number(number: str) -> bool:
    """Whether `number` (E.164) is one of the Twilio account's own numbers
    (IncomingPhoneNumbers); raises TwilioException when Twilio cannot be asked."""
    return bool(twilio_client().incoming_phone_numbers.list(phone_number=number, limit=1))
