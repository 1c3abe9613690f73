"""The status callback's fast path in front of Django, and its batched UPDATE."""

import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.db import DatabaseError, connection
from django.test import RequestFactory
from django.utils import timezone

from messaging.delivery import statuses_forward
from messaging.fastpath import StatusCallbackFastPath, _Batches
from messaging.models import Message

from .factories import MessageFactory
from .helpers import signed_post, status_params

URL = "/webhooks/twilio/status"


class Recorder:
    """The WSGI application behind the fast path: records what it was handed."""

    def __init__(self):
        self.bodies: list[bytes] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length))
        start_response("299 Handed On", [])
        return [b""]


def post(fast_path: StatusCallbackFastPath, request) -> int:
    """The status code of the signed request (a Django test request) sent to the fast path."""
    codes = []
    fast_path(request.environ, lambda status, headers: codes.append(int(status.split()[0])))
    return codes[0]


class SignedFactory(RequestFactory):
    def post(self, path, data=None, **extra):
        return signed_post(super(), path, data or {}, **extra)


@pytest.fixture
def send(monkeypatch):
    monkeypatch.setattr("messaging.fastpath.close_old_connections", lambda: None)
    inner = Recorder()
    fast_path = StatusCallbackFastPath(inner)
    factory = SignedFactory()

    def send(params: dict, path: str = URL, **extra) -> int:
        return post(fast_path, factory.post(path, params, **extra))

    send.inner = inner
    return send


@pytest.mark.django_db
def test_signed_status_is_applied_without_django(send, workspace):
    message = MessageFactory(workspace=workspace)
    assert send(status_params(message.provider_message_id, "delivered")) == 200
    assert send.inner.bodies == []
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["sent", "delivered"])
def test_late_or_repeated_status_is_answered_without_change(send, workspace, status):
    delivered_at = timezone.now() - timedelta(minutes=5)
    message = MessageFactory(workspace=workspace, status="delivered", delivered_at=delivered_at)
    assert send(status_params(message.provider_message_id, status)) == 200
    assert send.inner.bodies == []
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("delivered", delivered_at)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case", ["bad signature", "error code", "unknown sid", "call retry", "no status"]
)
def test_anything_else_is_handed_on_with_its_body(send, workspace, monkeypatch, case):
    message = MessageFactory(workspace=workspace, status="delivered")
    sid = message.provider_message_id
    params = {
        "bad signature": status_params(sid, "read"),
        "error code": status_params(sid, "failed", ErrorCode="30003"),
        "unknown sid": status_params("SM" + "e" * 32, "delivered"),
        "call retry": {"CallSid": sid, "CallStatus": "busy"},
        "no status": {"MessageSid": sid},
    }[case]
    if case == "bad signature":
        monkeypatch.setattr("messaging.fastpath.signature_valid", lambda *args: False)
    assert send(params) == 299
    [body] = send.inner.bodies
    assert parse_qs(body.decode()) == {name: [value] for name, value in params.items()}
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.read_at is None


@pytest.mark.django_db
def test_other_paths_and_methods_are_handed_on(send, workspace):
    message = MessageFactory(workspace=workspace)
    assert send(status_params(message.provider_message_id, "delivered"), "/webhooks/x") == 299
    assert send({}, URL, CONTENT_TYPE="text/plain") == 299
    message.refresh_from_db()
    assert message.status == "sent"


@pytest.mark.django_db
def test_statuses_forward_moves_each_message_by_rank(workspace):
    sent = MessageFactory(workspace=workspace, status="sent")
    delivered = MessageFactory(workspace=workspace, status="delivered")
    to_read = MessageFactory(workspace=workspace, status="sent")
    sending = MessageFactory(workspace=workspace, status="sending", sent_at=None)
    moved = statuses_forward(
        {
            sent.provider_message_id: "undelivered",
            delivered.provider_message_id: "sent",
            to_read.provider_message_id: "read",
            sending.provider_message_id: "sent",
        }
    )
    assert moved == {m.provider_message_id for m in (sent, to_read, sending)}
    for message in (sent, delivered, to_read, sending):
        message.refresh_from_db()
    assert (sent.status, sent.failed_at is not None, sent.delivered_at) == (
        "undelivered",
        True,
        None,
    )
    assert delivered.status == "delivered"
    assert (to_read.status, to_read.read_at is not None) == ("read", True)
    assert to_read.sent_at is not None and to_read.delivered_at is None
    assert (sending.status, sending.sent_at is not None) == ("sent", True)


@pytest.mark.django_db(transaction=True)
def test_callbacks_arriving_together_share_one_update(workspace, monkeypatch):
    """While the first thread's UPDATE is in the database the others queue, and the next
    thread applies all of theirs at once; every thread learns its own message's outcome."""
    messages = [MessageFactory(workspace=workspace) for _ in range(6)]
    unknown = "SM" + "d" * 32
    batches, sizes, all_queued = _Batches(), [], threading.Event()

    def slow_first(statuses):
        sizes.append(len(statuses))
        if len(sizes) == 1:
            all_queued.wait(timeout=10)
        return statuses_forward(statuses)

    monkeypatch.setattr("messaging.fastpath.statuses_forward", slow_first)
    sids = [m.provider_message_id for m in messages] + [unknown]
    results: dict[str, bool] = {}

    def callback(sid):
        try:
            results[sid] = batches.forward(sid, "delivered")
        finally:
            connection.close()  # each thread's own

    first = threading.Thread(target=callback, args=(sids[0],))
    first.start()
    while not sizes:
        time.sleep(0.01)
    others = [threading.Thread(target=callback, args=(sid,)) for sid in sids[1:]]
    for thread in others:
        thread.start()
    while len(batches._queue) < len(others):
        time.sleep(0.01)
    all_queued.set()
    for thread in [first, *others]:
        thread.join(timeout=10)

    assert sizes == [1, len(others)]
    assert results == {**{sid: True for sid in sids[:-1]}, unknown: False}
    assert Message.objects.filter(status="delivered").count() == len(messages)


def test_a_database_error_hands_every_queued_callback_on(monkeypatch):
    def broken(statuses):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("messaging.fastpath.statuses_forward", broken)
    batches = _Batches()
    assert batches.forward("SM1", "delivered") is False
    assert batches._queue == {} and batches._results == {}
