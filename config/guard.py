"""The WSGI application's first check: request bodies over the path's limit get a 413.

Django only refuses an oversized body once it parses it, and its multipart parser writes
every uploaded file to disk first: an unauthenticated 150 MB POST to /login/ was spooled
(126 MB) before the CSRF check answered 403. This guard looks at the request before anything
reads it: a Content-Length over the limit is answered at once, without reading a byte; a
chunked body (no Content-Length, which Django would otherwise read as empty) is read up to
the limit and refused past it, else handed on with its length.

The limits per path are settings.HERALD_BODY_LIMITS (the first pattern that matches), else
HERALD_MAX_REQUEST_BODY; deploy/nginx/herald.conf applies the same ones at the edge.
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
        return self.app(environ, start_response)

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


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB"
