"""The WSGI application's first check: request bodies over the path's limit get a 413.

Django only refuses an oversized body once it parses it, and its multipart parser writes
every uploaded file to disk first: an unauthenticated 150 MB POST to /login/ was spooled
(126 MB) before the CSRF check answered 403. This guard looks at the request before anything
reads it: a Content-Length over the limit is answered at once, without reading a byte; a
chunked body (no Content-Length, which Django would otherwise read as empty) is read up to
the limit and refused past it, else handed on with its length.

The limits per path are settings.HERALD_BODY_LIMITS (the first pattern that matches), else
HERALD_MAX_REQUEST_BODY; deploy/nginx/herald.conf applies the same ones at the edge.

A body within the limit that the application answered without reading (a 401 to an upload
without a key) is read to its end once the response is done: a server that closes a socket
with unread data sends a reset, and nginx, still writing the body it buffered, answers the
client 502 instead of the application's response.
"""

import json
import re
import tempfile
from functools import cache

from django.conf import settings

CHUNK = 64 * 1024


@cache
def _limits() -> tuple[tuple[re.Pattern, int], ...]:
    return tuple((re.compile(pattern), limit) for pattern, limit in settings.HERALD_BODY_LIMITS)


def body_limit(path: str) -> int:
    """The largest request body, in bytes, that `path` accepts."""
    for pattern, limit in _limits():
        if pattern.search(path):
            return limit
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestBodyGuard:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        limit = body_limit(path)
        length = environ.get("CONTENT_LENGTH", "").strip()
        if length:
            if not length.isdigit():
                return self._refuse(start_response, path, 400, "Invalid Content-Length.")
            if int(length) > limit:
                return self._too_large(start_response, path, limit)
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self._read_chunked(environ["wsgi.input"], limit)
            if body is None:
                return self._too_large(start_response, path, limit)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(body.tell())
            body.seek(0)
        if not length or int(length) == 0:
            return self.app(environ, start_response)
        environ["wsgi.input"] = counted = _Counted(environ["wsgi.input"])
        return _Drained(self.app(environ, start_response), counted, int(length))

    @staticmethod
    def _read_chunked(stream, limit: int):
        """The body in a spooled file (memory up to 1 MB), or None once it passes the limit."""
        body = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (handed on as wsgi.input)
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        while chunk := stream.read(CHUNK):
            if body.tell() + len(chunk) > limit:
                body.close()
                return None
            body.write(chunk)
        return body

    def _too_large(self, start_response, path: str, limit: int):
        message = f"Request body too large: this address accepts at most {_size(limit)}."
        return self._refuse(start_response, path, 413, message)

    @staticmethod
    def _refuse(start_response, path: str, status: int, message: str):
        reason = {400: "Bad Request", 413: "Content Too Large"}[status]
        if path.startswith("/api/"):
            body = json.dumps({"message": message, "errors": {}}).encode()
            content_type = "application/json"
        else:
            body, content_type = message.encode(), "text/plain; charset=utf-8"
        start_response(
            f"{status} {reason}",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


class _Counted:
    """wsgi.input, counting what the application reads of it."""

    def __init__(self, stream):
        self.stream, self.consumed = stream, 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.consumed += len(data)
        return data

    def readline(self, *args):
        line = self.stream.readline(*args)
        self.consumed += len(line)
        return line

    def readlines(self, *args):
        lines = self.stream.readlines(*args)
        self.consumed += sum(map(len, lines))
        return lines

    def __iter__(self):
        for line in self.stream:
            self.consumed += len(line)
            yield line

    def __getattr__(self, name):
        return getattr(self.stream, name)


class _Drained:
    """The application's response; closing it also reads what the application left of the
    request body (at most its Content-Length, which the guard held to the path's limit)."""

    def __init__(self, response, stream: _Counted, length: int):
        self.response, self.stream, self.length = response, stream, length

    def __iter__(self):
        return iter(self.response)

    def close(self):
        try:
            if hasattr(self.response, "close"):
                self.response.close()
        finally:
            left = self.length - self.stream.consumed
            try:
                while left > 0 and (chunk := self.stream.read(min(CHUNK, left))):
                    left -= len(chunk)
            except Exception:  # best effort: the client went away, or a short body
                pass


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB"
