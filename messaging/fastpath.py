"""The status callback's hot path, in front of Django's request handling (M4).

Twilio posts a status callback for every message at every step, so a campaign brings them by
the thousand a second. Django's request cycle (request object, eleven middleware, URL
resolution, response) costs several times the callback's own work, so the WSGI application
answers the common case here: a correctly signed callback, without an error code, about a
known message, which its status moves forward or (late or repeated) leaves as it is. It runs
the view's own signature check and the same UPDATE (`statuses_forward`), one for all the
callbacks that arrive together on a worker's threads.

Everything else goes on to the view untouched, which answers it exactly as it always has: a
bad or missing signature (403), a malformed or oversized body, a failure with an error code,
a call to retry, an unknown sid, a database error, another content type.

What this skips has nothing to say about a signed callback: sessions, CSRF (the view is
exempt), users, workspaces, and the Host and HTTPS checks (the signature covers
PUBLIC_BASE_URL, never the Host header).
"""

import io
import threading
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.urls import reverse
from django.utils.encoding import iri_to_uri

from .delivery import forward_status, sids_known, statuses_forward
from .webhooks import MAX_WEBHOOK_BYTES, signature_valid, status_fields

FORM = "application/x-www-form-urlencoded"


class _Form(dict):
    """Posted fields, name → values: what the signature check and status_fields read of the
    QueryDict the view gets (the last value wins, as in QueryDict.get), at a third of its cost."""

    def getlist(self, name: str) -> list[str]:
        return self[name]

    def get(self, name: str, default=None):
        values = super().get(name)
        return values[-1] if values else default


def form_parse(body: bytes) -> _Form:
    """The body parsed as Django parses a form body (UTF-8, else Latin-1); ValueError past
    DATA_UPLOAD_MAX_NUMBER_FIELDS."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = body.decode("iso-8859-1")
    form = _Form()
    pairs = parse_qsl(
        text, keep_blank_values=True, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    )
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


class _Batches:
    """Status updates arriving on a worker's threads at once, applied in one statement.

    While one thread's UPDATE is in the database, the callbacks of the other threads queue;
    the first of them to wake applies the whole queue in one UPDATE on its own connection and
    tells each thread whether its callback is settled: its message moved, or exists and had
    moved past that status already. A sid already queued is left to the view.
    """

    def __init__(self):
        self._changed = threading.Condition()
        self._queue: dict[str, str] = {}  # sid → status
        self._results: dict[str, bool] = {}
        self._applying = False

    def forward(self, sid: str, status: str) -> bool:
        with self._changed:
            if sid in self._queue or sid in self._results:
                return False
            self._queue[sid] = status
            while sid not in self._results:
                if self._applying:
                    self._changed.wait()
                else:
                    self._apply_queue()
            return self._results.pop(sid)

    def _apply_queue(self) -> None:
        """Apply the queue, the lock held on entry and exit but not while in the database."""
        batch, self._queue, self._applying = self._queue, {}, True
        settled: set[str] = set()
        self._changed.release()
        try:
            settled = statuses_forward(batch)
            if unmoved := batch.keys() - settled:
                settled |= sids_known(unmoved)
        except DatabaseError:
            pass  # each thread hands its callback to the view, which answers 503 if need be
        finally:
            self._changed.acquire()
            self._results.update((sid, sid in settled) for sid in batch)
            self._applying = False
            self._changed.notify_all()


class StatusCallbackFastPath:
    """WSGI middleware: answers the common status callback, hands the rest to `app`."""

    def __init__(self, app):
        self.app = app
        self.path = reverse("messaging:twilio-status")
        self.batches = _Batches()

    def __call__(self, environ, start_response):
        if self._wanted(environ) and self._applied(environ):
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        return self.app(environ, start_response)

    def _wanted(self, environ) -> bool:
        media, _, parameter = environ.get("CONTENT_TYPE", "").partition(";")
        return (
            environ.get("PATH_INFO") == self.path
            and environ.get("REQUEST_METHOD") == "POST"
            and not environ.get("SCRIPT_NAME")
            and not settings.FORCE_SCRIPT_NAME
            and media.strip().lower() == FORM
            and parameter.strip().lower() in ("", "charset=utf-8")
            and environ.get("CONTENT_LENGTH", "").isdigit()
            and 0 < int(environ["CONTENT_LENGTH"]) <= MAX_WEBHOOK_BYTES
        )

    def _applied(self, environ) -> bool:
        """Whether the callback was recognised and applied here. The body is put back for
        the view to read when it was not."""
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        environ["wsgi.input"] = io.BytesIO(body)
        close_old_connections()  # what Django does at the start and end of every request
        try:
            params = form_parse(body)
            query = environ.get("QUERY_STRING", "")
            url = settings.PUBLIC_BASE_URL + self.path + ("?" + iri_to_uri(query) if query else "")
            signature = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
            if not signature_valid(url, params, signature):
                return False
            if (fields := status_fields(params)) is None:
                return False
            status = forward_status(fields)
            return status is not None and self.batches.forward(fields.sid, status)
        except ValueError:
            return False
        finally:
            close_old_connections()
