"""The tracked link redirect's hot path, in front of Django's request handling (E2).

A campaign's links are clicked by the thousand a minute, and Django's request cycle (request
object, eleven middleware, URL resolution, response) costs several times the redirect's own
work. So the WSGI application answers `GET`/`HEAD /l/<code>` here, exactly as the view does
(views.link_redirect, the reference; both are tested against the same cases): one primary-key
lookup, then a 302 to the destination or the plain 404 page. Requests arriving together on a
worker's threads share the lookup's query (_Lookups), and each click is stored after its
response has been sent, with the clicks of the requests answered meanwhile (ClickQueue).

It hands on to Django whatever Django would answer differently: another method (405), a
Host that is not allowed (400), plain HTTP when HTTPS is required (the HTTPS redirect), a
script prefix, and a database error (Django's 500 page, logged). What it skips has nothing
to say about a public redirect: sessions, CSRF, users, workspaces, messages.
"""

import threading
from collections.abc import Callable

from csp.utils import build_policy
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.http.request import split_domain_port, validate_host
from django.template.loader import render_to_string
from django.urls import reverse

from .clicks import ClickQueue
from .redirects import links_find, pending_click
from .views import NO_STORE, NOT_FOUND_TEMPLATE

HTML = ("Content-Type", "text/html; charset=utf-8")


def security_headers() -> list[tuple[str, str]]:
    """The headers Django's middleware adds to these responses, from the same settings (the
    tests compare them with the view's)."""
    headers = [("Cache-Control", NO_STORE)]
    if policy := build_policy():
        headers.append(("Content-Security-Policy", policy))
    if settings.X_FRAME_OPTIONS:
        headers.append(("X-Frame-Options", settings.X_FRAME_OPTIONS))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers


class _Slot:
    """One thread's code in the queue; its lock is held until the thread may go on."""

    __slots__ = ("code", "done", "error", "found", "wake")

    def __init__(self, code: str):
        self.code = code
        self.done = False
        self.error: DatabaseError | None = None
        self.found: tuple[str, int] | None = None
        self.wake = threading.Lock()
        self.wake.acquire()


class _Lookups:
    """Codes looked up by a worker's threads at once, in one query.

    While one thread's query is in the database, the codes of the other threads queue; when
    it returns, that thread answers its batch and hands the queue to the first thread in it,
    which looks it all up in one query on its own connection. Each thread is woken once,
    when it is answered or handed the queue. A round trip costs far more than a primary-key
    probe, so under load this spares most of them; alone, a request waits for nobody.
    """

    def __init__(self, find: Callable[[list[str]], dict] = links_find):
        self._find = find
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._finding = False

    def get(self, code: str) -> tuple[str, int] | None:
        slot = _Slot(code)
        with self._lock:
            self._queue.append(slot)
            leading, self._finding = not self._finding, True
        if not leading:
            slot.wake.acquire()  # answered, or handed the queue
        if not slot.done:
            self._find_queue()
        if slot.error is not None:
            raise slot.error
        return slot.found

    def _find_queue(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            found = self._find([slot.code for slot in batch])
            for slot in batch:
                slot.found = found.get(slot.code)
        except DatabaseError as exc:
            for slot in batch:
                slot.error = exc
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._finding = following is not None
            for slot in batch:
                slot.done = True
                slot.wake.release()  # the lead thread's own release is never waited on
            if following is not None:
                following.wake.release()


class _AfterResponse:
    """A WSGI response body whose close() (the server calls it once the response is sent)
    stores the click."""

    __slots__ = ("_then",)

    def __init__(self, then):
        self._then = then

    def __iter__(self):
        yield b""

    def close(self) -> None:
        try:
            self._then()
        finally:
            close_old_connections()


class LinkRedirectFastPath:
    """WSGI middleware: answers tracked link requests, hands everything else to `app`."""

    def __init__(self, app, queue: ClickQueue | None = None):
        self.app = app
        self.prefix = reverse("engagement:link-redirect", args=["-"])[:-1]
        self.queue = queue or ClickQueue()
        self.lookups = _Lookups()
        self.not_found = render_to_string(NOT_FOUND_TEMPLATE).encode()
        self.headers = security_headers()

    def __call__(self, environ, start_response):
        if not self._wanted(environ):
            return self.app(environ, start_response)
        code = environ["PATH_INFO"][len(self.prefix) :]
        close_old_connections()  # what Django does at the start and end of every request
        try:
            target = self.lookups.get(code)
        except DatabaseError:
            close_old_connections()
            return self.app(environ, start_response)
        headers = self.headers + self._hsts(environ)
        if target is None:
            close_old_connections()
            length = ("Content-Length", str(len(self.not_found)))
            start_response("404 Not Found", [HTML, length, *headers])
            return [b"" if environ["REQUEST_METHOD"] == "HEAD" else self.not_found]
        url, message_id = target
        click = pending_click(code, message_id, environ)
        redirect = [HTML, ("Content-Length", "0"), ("Location", url)]
        start_response("302 Found", redirect + headers)
        return _AfterResponse(lambda: self.queue.add(click))

    def _wanted(self, environ) -> bool:
        return (
            environ.get("PATH_INFO", "").startswith(self.prefix)
            and environ.get("REQUEST_METHOD") in ("GET", "HEAD")
            and not environ.get("SCRIPT_NAME")
            and not settings.FORCE_SCRIPT_NAME
            and self._host_allowed(environ)
            and (self._secure(environ) or not settings.SECURE_SSL_REDIRECT)
        )

    @staticmethod
    def _host_allowed(environ) -> bool:
        """Django's own Host check (HttpRequest.get_host), which would answer 400."""
        if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
            host = environ["HTTP_X_FORWARDED_HOST"]
        else:
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        allowed = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed:
            allowed = [".localhost", "127.0.0.1", "[::1]"]
        domain, _port = split_domain_port(host)
        return bool(domain) and validate_host(domain, allowed)

    @staticmethod
    def _secure(environ) -> bool:
        if settings.SECURE_PROXY_SSL_HEADER:
            header, value = settings.SECURE_PROXY_SSL_HEADER
            if header in environ:
                return environ[header].split(",")[0].strip() == value
        return environ.get("wsgi.url_scheme") == "https"

    def _hsts(self, environ) -> list[tuple[str, str]]:
        if not settings.SECURE_HSTS_SECONDS or not self._secure(environ):
            return []
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        return [("Strict-Transport-Security", value)]
