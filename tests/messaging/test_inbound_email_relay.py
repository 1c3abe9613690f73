"""deploy/inbound-email-relay: a mail server's pipe hands a raw email to the webhook, signed
as the webhook checks it; its exit status tells the mail server to keep, retry or bounce."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from messaging.webhooks import email_signature

from .email_helpers import SECRET, raw_email

RELAY = Path(__file__).resolve().parents[2] / "deploy" / "inbound-email-relay"


@pytest.fixture
def herald():
    """A loopback server answering /<status> with that status; it records what it got."""
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(int(self.path.strip("/")))
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"answer")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


def _pipe(url: str, raw: bytes, secret: str = SECRET) -> int:
    env = {"HERALD_INBOUND_EMAIL_URL": url, "HERALD_INBOUND_EMAIL_SECRET": secret}
    done = subprocess.run([sys.executable, str(RELAY)], input=raw, env=env, timeout=60)
    return done.returncode


def test_relay_signs_the_raw_email_as_the_webhook_checks_it(herald):
    url, got = herald
    raw = raw_email(to="reply@in.example.com")
    assert _pipe(f"{url}/200", raw) == 0
    ((headers, body),) = got
    assert body == raw and headers["Content-Type"] == "message/rfc822"
    timestamp, signature = (p.split("=", 1)[1] for p in headers["X-Herald-Signature"].split(","))
    assert signature == email_signature(SECRET, timestamp, raw)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 65), (403, 77), (404, 67), (413, 65), (422, 67), (429, 75), (500, 75), (503, 75)],
)
def test_relay_exit_status_says_retry_or_bounce(herald, status, code):
    assert _pipe(f"{herald[0]}/{status}", b"From: a@b.c\n\nx") == code


def test_relay_without_configuration_or_server_keeps_the_mail_queued():
    assert _pipe("", b"x", secret="") == 75
    assert _pipe("http://127.0.0.1:9/none", b"From: a@b.c\n\nx") == 75
