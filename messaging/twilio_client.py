"""The real `twilio` REST client, optionally pointed at another server (TWILIO_API_BASE_URL).

Tests and staging run the unmodified twilio library against a server that speaks Twilio's
REST API; only the scheme and host of each request change (libraries.md 1.4, option B).
"""

import threading
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

_last = threading.local()


class _Session(requests.Session):
    """requests reads the environment's proxy settings (and ~/.netrc) again for every request,
    a fifth of a Twilio call's CPU here; they do not change while Herald runs, so they are
    read once per host."""

    def __init__(self):
        super().__init__()
        self._merged: dict[tuple, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        key = (urlsplit(url).netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        merged = self._merged.get(key)
        if merged is None:
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._merged[key] = merged
        return {**merged, "proxies": dict(merged["proxies"])}


class HeraldHttpClient(TwilioHttpClient):
    """Twilio's HTTP client that remembers the last answer's Retry-After (per thread: the
    twilio library's exceptions do not carry headers, and send tasks make calls on several
    threads) and, given a `base_url`, sends every request there instead of
    https://*.twilio.com, path unchanged."""

    def __init__(self, base_url: str = "", **kwargs):
        super().__init__(**kwargs)
        self.session = _Session()
        # A connection kept for each provider call a send task has in flight at once (the
        # library's default keeps cpu_count + 4 and opens and drops the rest every time).
        adapter = HTTPAdapter(pool_maxsize=max(settings.HERALD_SEND_CONCURRENCY, 10))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        parts = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path

    def request(self, method, url, *args, **kwargs):
        if self._netloc:
            parts = urlsplit(url)
            url = urlunsplit(
                (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
            )
        _last.retry_after = None
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 429:
            _last.retry_after = _seconds((response.headers or {}).get("Retry-After"))
        return response


def _seconds(value) -> float | None:
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None  # absent, or an HTTP date (Twilio sends seconds)


def last_retry_after() -> float | None:
    """The Retry-After (seconds) of this thread's last Twilio answer, when it was a 429."""
    return getattr(_last, "retry_after", None)


@lru_cache(maxsize=4)
def _client(sid: str, token: str, base_url: str, timeout: float) -> Client:
    return Client(sid, token, http_client=HeraldHttpClient(base_url, timeout=timeout))


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
