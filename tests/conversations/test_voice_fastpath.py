"""The voice webhooks' fast path in front of Django (conversations.fastpath): what it answers
itself, what it hands to the views, and its work after the answer. The call's behaviour is
tested through both in test_voice.py (the `player` fixture)."""

import pytest
from django.db import DatabaseError
from django.test import RequestFactory

from conversations.fastpath import VoiceWebhookFastPath
from conversations.models import ConversationMessage, VoiceCall, VoiceTurn
from tests.conversations.test_voice import _answered, _params, _place, _turn_url, queued  # noqa: F401
from tests.fakes import openai as fake
from tests.fakes.llm_fixtures import *  # noqa: F403
from tests.fakes.twilio_calls import CallPlayer
from tests.messaging.helpers import signed_post

pytestmark = pytest.mark.django_db


class Recorder:
    """The WSGI application behind the fast path (Django): records what it was handed."""

    def __init__(self):
        self.bodies: list[bytes] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length))
        start_response("299 Handed On", [])
        return [b""]


class SignedFactory(RequestFactory):
    def post(self, path, data=None, **extra):
        return signed_post(super(), path, data or {}, **extra)


@pytest.fixture
def fast(monkeypatch):
    """send(path, params, **extra) → (status, headers, body, closed: the after-work's effect
    is checked by the caller once the body is closed)."""
    monkeypatch.setattr("conversations.fastpath.close_old_connections", lambda: None)
    inner = Recorder()
    fast_path = VoiceWebhookFastPath(inner)
    factory = SignedFactory()

    def send(path: str, params: dict, *, request=None, close: bool = True, **extra):
        environ = (request or factory.post(path, params, **extra)).environ
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

        result = fast_path(environ, start_response)
        answer["body"] = b"".join(result)
        answer["result"] = result
        if close and hasattr(result, "close"):
            result.close()
        return answer

    send.inner = inner
    return send


@pytest.fixture
def answered(fake_twilio, fake_llm, queued):  # noqa: F811
    from django.test import Client

    from tests.fakes.twilio_calls import django_transport

    player = CallPlayer(fake_twilio, django_transport(Client()))
    return queued, _answered(fake_twilio, queued, player)


def _path(url: str) -> str:
    return url.removeprefix("https://herald.example.com")


def test_a_signed_turn_is_answered_without_django_and_its_thread_copy_follows(
    fast, answered, fake_llm
):
    message, sid = answered
    fake_llm.script(fake.decision("reply", "Lovely. Friday it is?"))
    answer = fast(_path(_turn_url(message, 1)), _params(sid, SpeechResult="Yes"), close=False)
    assert fast.inner.bodies == []  # Django never saw it
    assert answer["status"] == 200 and answer["headers"]["Content-Type"] == "text/xml"
    assert int(answer["headers"]["Content-Length"]) == len(answer["body"])
    assert b"Lovely. Friday it is?" in answer["body"] and b"<Gather" in answer["body"]
    call = VoiceCall.objects.get(call_sid=sid)
    assert call.turns.get(number=1).reply == "Lovely. Friday it is?"
    said = ConversationMessage.objects.filter(conversation=call.conversation_id, author="agent")
    assert not said.exists()  # the thread's copy waits until the answer has been sent
    answer["result"].close()
    assert list(said.values_list("body", flat=True)) == ["Lovely. Friday it is?"]
    heard = ConversationMessage.objects.get(conversation=call.conversation_id, author="contact")
    assert (heard.direction, heard.body, heard.channel) == ("in", "Yes", "voice")
    call.conversation.refresh_from_db()
    assert call.conversation.preview == "Lovely. Friday it is?" and call.conversation.unread


def test_the_answer_webhook_is_answered_without_django(fast, fake_twilio, fake_llm, queued):  # noqa: F811
    sid = _place(fake_twilio, queued)
    answer = fast(_path(fake_twilio.calls[sid]["_url"]), _params(sid, AnsweredBy="human"))
    assert fast.inner.bodies == [] and answer["status"] == 200
    assert queued.body.encode() in answer["body"] and b"<Gather" in answer["body"]
    call = VoiceCall.objects.get(call_sid=sid)
    assert call.conversation_id is not None  # the after-work joined the thread


@pytest.mark.parametrize(
    "case",
    ["unsigned", "forged", "no-call-sid", "too-many-fields", "json", "get", "other-path"],
)
def test_what_django_would_answer_otherwise_is_handed_to_the_view(fast, answered, case):
    message, sid = answered
    path = _path(_turn_url(message, 1))
    params = _params(sid, SpeechResult="Yes")
    factory, plain = SignedFactory(), RequestFactory()
    request = {
        "unsigned": lambda: plain.post(path, params),
        "forged": lambda: signed_post(plain, path, params, token="not-the-auth-token"),
        "no-call-sid": lambda: factory.post(path, {"SpeechResult": "Yes"}),
        "too-many-fields": lambda: factory.post(path, {f"f{i}": "x" for i in range(1001)}),
        "json": lambda: plain.post(path, params, content_type="application/json"),
        "get": lambda: plain.get(path),
        "other-path": lambda: factory.post("/webhooks/twilio/voice/status?m=1", params),
    }[case]()
    answer = fast(path, params, request=request)
    assert answer["status"] == 299 and len(fast.inner.bodies) == 1  # the view answers it
    assert VoiceTurn.objects.filter(call__call_sid=sid).count() == 1  # the opening only


def test_a_database_error_answers_503_and_the_request_is_not_handed_on(fast, answered, monkeypatch):
    message, sid = answered

    def down(**kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr("conversations.fastpath.voice_turn", down)
    answer = fast(_path(_turn_url(message, 1)), _params(sid, SpeechResult="Yes"))
    assert answer["status"] == 503 and answer["body"] == b"Temporarily unavailable."
    assert fast.inner.bodies == []


def test_the_after_work_failing_is_logged_and_the_answer_stands(
    fast, answered, caplog, monkeypatch
):
    message, sid = answered

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("conversations.voice.turns_append", broken)
    answer = fast(_path(_turn_url(message, 1)), _params(sid, SpeechResult=""))
    assert answer["status"] == 200 and b"didn" in answer["body"]  # the reprompt
    assert "Could not add a turn of call" in caplog.text
