"""The WSGI body-size guard (config/guard.py): oversized bodies get a 413 before any parsing."""

import io
import json

import pytest
from django.conf import settings

from config.guard import RequestBodyGuard, body_limit
from config.wsgi import application

MB = 1024 * 1024


class Stream(io.BytesIO):
    """wsgi.input that counts what was read of it."""

    def __init__(self, data: bytes = b""):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


class Inner:
    def __init__(self):
        self.environ = None

    def __call__(self, environ, start_response):
        self.environ = environ
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"inner"]


def call(app, path: str, *, length=None, body=b"", chunked=False, **extra):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": Stream(body),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        **extra,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    content = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], content, environ


@pytest.mark.parametrize("path", ["/login/", "/admin/login/", "/webhooks/twilio/inbound"])
def test_oversized_content_length_is_refused_unread(path):
    inner = Inner()
    status, headers, content, environ = call(RequestBodyGuard(inner), path, length=150 * MB)
    assert status == 413 and inner.environ is None
    assert environ["wsgi.input"].bytes_read == 0
    assert b"at most 64 KB" in content


def test_the_deployed_application_is_guarded():
    """config.wsgi.application (gunicorn's and runserver's) answers before Django parses."""
    status, _, _, environ = call(
        application, "/login/", length=150 * MB, CONTENT_TYPE="multipart/form-data; boundary=x"
    )
    assert status == 413 and environ["wsgi.input"].bytes_read == 0


def test_api_gets_json_413():
    status, headers, content, _ = call(
        RequestBodyGuard(Inner()), "/api/v1/contacts", length=11 * MB
    )
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert json.loads(content)["message"].startswith("Request body too large")


@pytest.mark.parametrize(
    "path",
    ["/contacts/import/", "/api/v1/contacts/upload", "/api/v1/contacts/upload/vcard",
     "/api/v1/campaigns/contact-groups/12/import"],
)  # fmt: skip
def test_upload_paths_take_a_whole_import_file(path):
    inner = Inner()
    assert body_limit(path) == settings.HERALD_IMPORT_MAX_BYTES + MB
    status, *_ = call(RequestBodyGuard(inner), path, length=settings.HERALD_IMPORT_MAX_BYTES)
    assert status == 200 and inner.environ is not None
    status, *_ = call(
        RequestBodyGuard(Inner()), path, length=settings.HERALD_IMPORT_MAX_BYTES + 2 * MB
    )
    assert status == 413


def test_other_paths_take_the_default_limit():
    assert body_limit("/api/v1/contacts") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    inner = Inner()
    status, *_ = call(RequestBodyGuard(inner), "/contacts/bulk/", length=MB)
    assert status == 200 and inner.environ is not None


def test_chunked_body_past_the_limit_is_refused_while_reading():
    stream_body = b"x" * (MB)
    status, _, _, environ = call(
        RequestBodyGuard(Inner()), "/login/", body=stream_body, chunked=True
    )
    assert status == 413
    assert environ["wsgi.input"].bytes_read <= 64 * 1024 + 64 * 1024  # the limit and one read


def test_chunked_body_within_the_limit_is_handed_on_with_its_length():
    inner = Inner()
    status, *_ = call(
        RequestBodyGuard(inner), "/login/", body=b"username=a&password=b", chunked=True
    )
    assert status == 200
    assert inner.environ["CONTENT_LENGTH"] == "21"
    assert inner.environ["wsgi.input"].read() == b"username=a&password=b"


def test_invalid_content_length_is_400():
    inner = Inner()
    status, *_ = call(RequestBodyGuard(inner), "/login/", length="12abc")
    assert status == 400 and inner.environ is None


@pytest.mark.django_db(transaction=True)
def test_chunked_api_request_reaches_the_api_whole(api_key, workspace):
    """Django reads a body without Content-Length as empty; behind the guard it arrives.

    The real WSGI handler closes old database connections around the request, as in
    production: hence committed data (transaction=True), not the test's open transaction."""
    body = json.dumps({"first_name": "Ann", "phone": "+14155550134"}).encode()
    status, _, content, _ = call(
        application,
        "/api/v1/contacts",
        body=body,
        chunked=True,
        CONTENT_TYPE="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
        HTTP_HOST="localhost",
    )
    assert status == 201, content
    assert workspace.contacts.filter(phone="+14155550134").exists()


def test_a_body_the_application_did_not_read_is_read_once_it_has_answered():
    """Else the server closes with unread data, the socket resets, and nginx (still sending
    the body it buffered) turns the application's answer into a 502."""
    environ_seen = {}

    def unauthorised(environ, start_response):
        environ_seen["input"] = environ["wsgi.input"]
        start_response("401 Unauthorized", [("Content-Type", "text/plain")])
        return [b"no key"]

    body = b"x" * (3 * MB)
    response = RequestBodyGuard(unauthorised)(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/contacts/upload",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": Stream(body),
        },
        lambda status, headers: None,
    )
    assert b"".join(response) == b"no key"
    stream = environ_seen["input"].stream
    assert stream.bytes_read == 0  # not before the answer is sent...
    response.close()
    assert stream.bytes_read == len(body)  # ...but all of it after


def test_what_the_application_read_is_not_read_again():
    def reads_some(environ, start_response):
        environ["wsgi.input"].read(1000)
        environ["wsgi.input"].readline()
        start_response("200 OK", [])
        return [b""]

    body = b"y" * 5000 + b"\n" + b"z" * 5000
    stream = Stream(body)
    environ = {"PATH_INFO": "/api/v1/contacts", "CONTENT_LENGTH": str(len(body))}
    RequestBodyGuard(reads_some)({**environ, "wsgi.input": stream}, lambda *a: None).close()
    assert stream.tell() == len(body)  # all of it read, nothing past it asked for:
    assert stream.bytes_read == 1000 + 5000  # read() by the app, then the drain (readline
    # is BytesIO's own, uncounted by Stream)
