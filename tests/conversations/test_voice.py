"""AI voice calls (V6): the call is placed through the real `twilio` client against the fake
Twilio, then played by the fake (signed webhooks through Django's test client), with the
model answering from the fake OpenAI-compatible server through the real `openai` client."""

import time
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from twilio.twiml.voice_response import Gather, VoiceResponse

from campaigns.models import Campaign
from contacts.services import contact_opt_out
from conversations import voice
from conversations.answering import workspace_tokens_today
from conversations.models import Agent, Conversation, VoiceCall, VoiceTurn
from messaging.models import Message
from messaging.sending import outbox_send
from tests.conversations.factories import AgentFactory
from tests.factories import ContactFactory, ContactGroupFactory
from tests.fakes import openai as fake
from tests.fakes.llm_fixtures import *  # noqa: F403
from tests.fakes.twilio_calls import CallPlayer, django_transport, wsgi_transport
from tests.messaging.factories import MessageFactory, SenderFactory
from tests.messaging.helpers import WsgiClient

pytestmark = pytest.mark.django_db

OPENING = "Hi Ann, this is Ava from Acme. Can we confirm your visit on Friday?"


@pytest.fixture
def queued(workspace):
    agent = AgentFactory(
        workspace=workspace,
        name="Ava",
        instructions="Confirm Friday's appointment.",
        voice="Polly.Joanna",
        max_call_seconds=300,
    )
    campaign = Campaign.objects.create(
        workspace=workspace,
        name="Calls",
        channel="voice",
        group=ContactGroupFactory(workspace=workspace),
        agent=agent,
    )
    contact = ContactFactory(workspace=workspace, first_name="Ann", phone="+14155550123")
    ContactFactory(workspace=workspace, first_name="Bob", phone="+14155550987")
    sender = SenderFactory(
        workspace=workspace, channel="voice", address="+14155559999", rate_limit_per_second=0
    )
    return MessageFactory(
        workspace=workspace,
        campaign=campaign,
        contact=contact,
        sender=sender,
        channel="voice",
        to_address=contact.phone,
        body=OPENING,
        status=Message.Status.QUEUED,
        attempts=0,
        provider_message_id="",
        sent_at=None,
        send_after=timezone.now() - timedelta(seconds=1),
    )


@pytest.fixture(params=["view", "wsgi"])
def player(request, fake_twilio):
    """The call's webhooks through Django's test client (the views), or through the WSGI
    application gunicorn serves (the fast path in front of them): the same cases for both."""
    if request.param == "view":
        return CallPlayer(fake_twilio, django_transport(Client()))
    return CallPlayer(fake_twilio, wsgi_transport(WsgiClient()))


def _place(fake_twilio, message) -> str:
    assert outbox_send(message_ids=[message.pk]) == {"sent": 1}
    message.refresh_from_db()
    assert message.provider_message_id in fake_twilio.calls
    return message.provider_message_id


def _call(sid) -> VoiceCall:
    return VoiceCall.objects.get(call_sid=sid)


def test_conversing_call_is_placed_with_herald_url_and_machine_detection(
    fake_twilio, fake_llm, queued
):
    _place(fake_twilio, queued)
    (request,) = fake_twilio.creates("Calls")
    assert request.param("Url") == (
        f"https://herald.example.com/webhooks/twilio/voice/answer?m={queued.pk}"
    )
    assert request.param("Twiml") is None
    assert request.param("MachineDetection") == "DetectMessageEnd"
    assert request.param("AsyncAmd") == "true"  # the opening does not wait for the verdict
    assert request.param("AsyncAmdStatusCallback") == (
        f"https://herald.example.com/webhooks/twilio/voice/machine?m={queued.pk}"
    )
    assert request.param("AsyncAmdStatusCallbackMethod") == "POST"
    assert request.param("TimeLimit") == "300"
    assert request.param("StatusCallback") == (
        f"https://herald.example.com/webhooks/twilio/voice/status?m={queued.pk}"
    )


def test_without_a_model_the_call_says_its_message_and_hangs_up(fake_twilio, queued, player):
    sid = _place(fake_twilio, queued)
    (request,) = fake_twilio.creates("Calls")
    assert request.param("Url") is None and request.param("MachineDetection") is None
    assert request.param("StatusCallback").endswith(f"/webhooks/twilio/status?m={queued.pk}")
    played = player.play(sid, speech=["Hello?"])
    assert played.said == [OPENING] and played.hung_up_by == "agent"
    assert not VoiceCall.objects.exists()
    queued.refresh_from_db()
    assert queued.status == "delivered"


def test_call_converses_until_the_agent_ends_it(fake_twilio, fake_llm, queued, player):
    fake_llm.script(
        fake.decision("reply", "Great. Does 3 pm suit you?"),
        fake.decision("end", "Perfect, see you Friday at 3 pm. Goodbye!", "confirmed"),
    )
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=[("Yes, I have a minute", 0.87), "3 pm works"])
    assert played.said == [
        OPENING,
        "Great. Does 3 pm suit you?",
        "Perfect, see you Friday at 3 pm. Goodbye!",
    ]
    assert played.hung_up_by == "agent"
    assert [status for _, status in played.callbacks] == [200] * len(played.callbacks)
    first = played.exchanges[0].twiml
    assert '<Gather action="https://herald.example.com/webhooks/twilio/voice/turn?m=' in first
    assert 'input="speech"' in first and 'actionOnEmptyResult="true"' in first
    assert '<Say language="en-US" voice="Polly.Joanna">' in first and 'language="en-US"' in first

    call = _call(sid)
    assert (call.outcome, call.ending, call.handoff) == ("answered", "done", False)
    assert call.answered_by == "human" and call.duration_seconds >= 1
    turns = list(call.turns.values_list("number", "speech", "confidence", "reply", "action"))
    assert turns == [
        (0, "", None, OPENING, "opening"),
        (1, "Yes, I have a minute", 0.87, "Great. Does 3 pm suit you?", "reply"),
        (2, "3 pm works", 0.92, "Perfect, see you Friday at 3 pm. Goodbye!", "end"),
    ]
    assert all(t.tokens == 150 and t.model_ms is not None for t in call.turns.filter(number__gt=0))
    queued.refresh_from_db()
    assert queued.status == "delivered"

    second = fake_llm.requests[1].text
    assert "3 pm works" in second and "Yes, I have a minute" in second
    assert "Confirm Friday's appointment." in second and "speaking on a phone call" in second
    assert "+14155550987" not in fake_llm.everything_sent  # another contact's phone
    assert "+14155550123" not in fake_llm.everything_sent  # and this one's: never needed


def test_contact_asks_to_stop_on_the_call(fake_twilio, fake_llm, queued, player):
    fake_llm.script(fake.decision("opt_out", "", "asked not to be called"))
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=["Stop calling me"])
    assert played.said == [OPENING, voice.OPT_OUT_LINE]
    queued.contact.refresh_from_db()
    assert queued.contact.status == "opted_out"
    assert queued.contact.opt_out_reason == "message"
    assert _call(sid).ending == "opt_out"


def test_handoff_says_someone_calls_back(fake_twilio, fake_llm, queued, player):
    fake_llm.script(fake.decision("handoff", "", "wants to discuss the bill"))
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=["I have a question about my bill"])
    assert played.said == [OPENING, voice.HANDOFF_LINE]
    call = _call(sid)
    assert (call.ending, call.handoff, call.handoff_reason) == (
        "handoff",
        True,
        "wants to discuss the bill",
    )


@pytest.fixture(params=["async", "sync"])
def detection(request, settings):
    """Machine detection beside the call (the verdict to its own webhook, a machine's call
    updated through the Calls API), or before it (AnsweredBy on the answer webhook)."""
    settings.HERALD_VOICE_ASYNC_AMD = request.param == "async"
    return request.param


@pytest.mark.parametrize("answered_by", ["machine_end_beep", "machine_end_silence"])
def test_answering_machine_gets_the_opening_as_voicemail(
    fake_twilio, fake_llm, queued, player, answered_by, detection
):
    sid = _place(fake_twilio, queued)
    played = player.play(sid, answered_by=answered_by)
    assert played.said == [OPENING] and played.hung_up_by == "agent"
    call = _call(sid)
    assert (call.outcome, call.ending, call.answered_by) == ("voicemail", "voicemail", answered_by)
    assert fake_llm.requests == []
    if detection == "async":  # the call already ran its opening: it was redirected
        assert played.verdict == 200
        (update,) = fake_twilio.calls[sid]["_updates"]
        assert OPENING in update["Twiml"] and "<Hangup />" in update["Twiml"]
        assert "<Gather" not in update["Twiml"]
    else:
        assert played.verdict is None and "_updates" not in fake_twilio.calls[sid]
    turn = call.turns.get(number=0)
    assert (turn.action, turn.reply) == ("voicemail", OPENING)
    thread = Conversation.objects.get(voice_calls=call)
    assert thread.turns.filter(body__startswith="An answering machine took the call").exists()


@pytest.mark.parametrize("answered_by", ["fax", "machine_start"])
def test_machine_at_the_start_or_a_fax_is_hung_up_on(
    fake_twilio, fake_llm, queued, player, answered_by, detection
):
    sid = _place(fake_twilio, queued)
    played = player.play(sid, answered_by=answered_by)
    assert played.said == []
    assert (_call(sid).outcome, _call(sid).ending) == ("machine", "machine")
    if detection == "async":
        (update,) = fake_twilio.calls[sid]["_updates"]
        assert update["Twiml"].endswith("<Response><Hangup /></Response>")


def test_a_machine_verdict_before_the_answer_leaves_the_voicemail_at_once(
    fake_twilio, fake_llm, queued, player
):
    sid = _place(fake_twilio, queued)
    played = player.play(sid, answered_by="machine_end_beep", verdict_first=True)
    assert played.verdict == 200 and played.said == [OPENING]
    assert "<Gather" not in played.exchanges[0].twiml  # the answer read the stored verdict
    assert "_updates" not in fake_twilio.calls[sid]  # nothing to redirect
    call = _call(sid)
    assert (call.outcome, call.ending, call.answered_by) == (
        "voicemail",
        "voicemail",
        "machine_end_beep",
    )


@pytest.mark.parametrize("answered_by", ["human", "unknown"])
def test_a_person_or_no_verdict_lets_the_call_go_on(
    fake_twilio, fake_llm, queued, player, answered_by
):
    fake_llm.script(fake.decision("end", "Great, see you Friday!"))
    sid = _place(fake_twilio, queued)
    played = player.play(sid, answered_by=answered_by, speech=["Yes"])
    assert played.verdict == 200
    assert played.said == [OPENING, "Great, see you Friday!"]
    assert "_updates" not in fake_twilio.calls[sid]
    call = _call(sid)
    assert (call.outcome, call.ending, call.answered_by) == ("answered", "done", answered_by)


def _machine_url(message):
    return f"https://herald.example.com/webhooks/twilio/voice/machine?m={message.pk}"


def _verdict(sid, answered_by):
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 31 + "1",
        "AnsweredBy": answered_by,
        "MachineDetectionDuration": "2400",
    }


@pytest.mark.parametrize("signature", ["", "forged"])
def test_a_forged_or_missing_verdict_signature_is_refused_and_changes_nothing(
    fake_twilio, fake_llm, queued, player, signature
):
    sid = _answered(fake_twilio, queued, player)
    path = urlsplit(_machine_url(queued))
    status, _ = player.transport(
        f"{path.path}?{path.query}", _verdict(sid, "machine_end_beep"), signature
    )
    assert status == 403
    call = _call(sid)
    assert (call.outcome, call.ended_at, call.answered_by) == ("answered", None, "human")
    assert "_updates" not in fake_twilio.calls[sid]


def test_a_verdict_for_a_call_that_is_not_ours_is_acknowledged_and_ignored(
    fake_twilio, fake_llm, queued, player, other_workspace
):
    sid = _answered(fake_twilio, queued, player)
    other = MessageFactory(workspace=other_workspace, channel="voice", provider_message_id="")
    for url, params in (
        (_machine_url(queued), _verdict("CA" + "f" * 32, "machine_end_beep")),  # unknown sid
        (_machine_url(other), _verdict(sid, "machine_end_beep")),  # another workspace's call
        (_machine_url(queued).replace("?m=", "?m=x"), _verdict(sid, "machine_end_beep")),
    ):
        status, _ = player.post(url, params)
        assert status == 200
    assert VoiceCall.objects.count() == 1
    call = _call(sid)
    assert (call.outcome, call.ended_at, call.answered_by) == ("answered", None, "human")
    assert "_updates" not in fake_twilio.calls[sid]


def test_a_repeated_verdict_redirects_the_call_once(fake_twilio, fake_llm, queued, player):
    sid = _answered(fake_twilio, queued, player)
    for _ in range(2):
        assert player.post(_machine_url(queued), _verdict(sid, "machine_end_beep"))[0] == 200
    assert len(fake_twilio.calls[sid]["_updates"]) == 1
    assert _call(sid).ending == "voicemail"
    thread = Conversation.objects.get(voice_calls=_call(sid))
    events = thread.turns.filter(body__startswith="An answering machine took the call")
    assert events.count() == 1


def test_when_the_call_cannot_be_redirected_it_goes_on(
    fake_twilio, fake_llm, queued, player, caplog
):
    sid = _answered(fake_twilio, queued, player)
    fake_twilio.fail_next(404, code=21220, message="Call is not in-progress")
    status, _ = player.post(_machine_url(queued), _verdict(sid, "machine_end_beep"))
    assert status == 200 and "Could not redirect call" in caplog.text
    call = _call(sid)
    assert (call.outcome, call.ended_at, call.answered_by) == (
        "answered",
        None,
        "machine_end_beep",
    )


def test_no_speech_twice_in_a_row_says_goodbye(fake_twilio, fake_llm, queued, player):
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=[None, ""])
    assert played.said == [OPENING, voice.NO_SPEECH_AGAIN, voice.NO_SPEECH_GOODBYE]
    assert _call(sid).ending == "no_speech"
    assert fake_llm.requests == []


def test_speech_after_one_silence_carries_on(fake_twilio, fake_llm, queued, player):
    fake_llm.script(fake.decision("reply", "Good. Friday then?"), fake.decision("end", "Bye!"))
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=[None, "Sorry, yes", None, "Yes, Friday"])
    assert played.said == [
        OPENING,
        voice.NO_SPEECH_AGAIN,
        "Good. Friday then?",
        voice.NO_SPEECH_AGAIN,
        "Bye!",
    ]
    assert _call(sid).ending == "done"


def test_contact_hanging_up_ends_the_call_with_twilios_length(
    fake_twilio, fake_llm, queued, player
):
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=[])
    assert played.hung_up_by == "contact"
    call = _call(sid)
    assert call.ending == "hung_up" and call.ended_at is not None
    assert call.duration_seconds >= 1


def test_model_error_gets_a_fallback_line_and_a_handoff(fake_twilio, fake_llm, queued, player):
    fake_llm.script(*[fake.server_error()] * 5)
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=["Yes"])
    assert played.said == [OPENING, voice.FALLBACK_LINE]
    call = _call(sid)
    assert (call.ending, call.handoff) == ("error", True)
    assert "500" in call.handoff_reason


def test_slow_model_is_cut_off_inside_the_turn_budget(
    fake_twilio, fake_llm, queued, player, settings
):
    settings.HERALD_VOICE_MODEL_SECONDS = 1.0
    fake_llm.script(fake.slow(4))
    sid = _place(fake_twilio, queued)
    player.post(fake_twilio.calls[sid]["_url"], _params(sid, AnsweredBy="human"))
    started = time.monotonic()
    status, twiml = player.post(_turn_url(queued, 1), _params(sid, SpeechResult="Yes"))
    elapsed = time.monotonic() - started
    assert status == 200 and voice.FALLBACK_LINE in twiml and "<Hangup />" in twiml
    # The model's 4 s answer was cut at 1 s: far inside Twilio's 15 s even on a loaded machine
    # (Herald's own time is the benchmark's business, not a test's).
    assert elapsed < 4.0
    assert _call(sid).handoff


@pytest.mark.parametrize(
    "answer",
    [fake.invalid_json(), fake.decision("reply", "word " * 200)],
    ids=["invalid-json", "too-long-for-speech"],
)
def test_invalid_or_too_long_answers_fall_back(fake_twilio, fake_llm, queued, player, answer):
    fake_llm.set_default(lambda body: answer)
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=["Yes"])
    assert played.said == [OPENING, voice.FALLBACK_LINE]
    call = _call(sid)
    assert call.handoff and "Invalid answer" in call.handoff_reason
    assert len(fake_llm.requests) == 3  # HERALD_LLM_ATTEMPTS, each told what was wrong


def _params(sid, **more):
    return {"CallSid": sid, "AccountSid": "AC" + "0" * 31 + "1", "CallStatus": "in-progress"} | more


def _turn_url(message, number):
    return f"https://herald.example.com/webhooks/twilio/voice/turn?m={message.pk}&t={number}"


def _answered(fake_twilio, queued, player):
    sid = _place(fake_twilio, queued)
    status, _ = player.post(fake_twilio.calls[sid]["_url"], _params(sid, AnsweredBy="human"))
    assert status == 200
    return sid


def test_replayed_turn_gets_the_same_twiml_without_a_second_model_call(
    fake_twilio, fake_llm, queued, player
):
    fake_llm.script(fake.decision("reply", "Lovely. Friday it is?"))
    sid = _answered(fake_twilio, queued, player)
    first = player.post(_turn_url(queued, 1), _params(sid, SpeechResult="Yes"))
    again = player.post(_turn_url(queued, 1), _params(sid, SpeechResult="Yes"))
    assert first == again and "Lovely. Friday it is?" in first[1]
    assert len(fake_llm.requests) == 1
    assert VoiceTurn.objects.filter(call__call_sid=sid).count() == 2
    opening = player.post(fake_twilio.calls[sid]["_url"], _params(sid, AnsweredBy="human"))
    assert OPENING in opening[1] and VoiceTurn.objects.filter(call__call_sid=sid).count() == 2


@pytest.mark.parametrize("signature", ["", "forged"])
def test_forged_or_missing_signature_is_refused_and_changes_nothing(
    fake_twilio, fake_llm, queued, player, signature
):
    sid = _answered(fake_twilio, queued, player)
    body = _params(sid, SpeechResult="Stop calling me")
    path = urlsplit(_turn_url(queued, 1))
    for target in (f"{path.path}?{path.query}", f"/webhooks/twilio/voice/answer?m={queued.pk}"):
        status, _ = player.transport(target, body, signature)
        assert status == 403
    status, _ = player.transport(
        f"/webhooks/twilio/voice/status?m={queued.pk}", _params(sid, CallStatus="completed"), ""
    )
    assert status == 403
    assert VoiceTurn.objects.filter(call__call_sid=sid).count() == 1
    assert fake_llm.requests == []
    queued.refresh_from_db()
    assert queued.status == "sent" and _call(sid).ended_at is None


def test_tampered_speech_fails_the_signature(fake_twilio, fake_llm, queued, player):
    sid = _answered(fake_twilio, queued, player)
    url = _turn_url(queued, 1)
    signature = player.validator.compute_signature(url, _params(sid, SpeechResult="Yes"))
    path = urlsplit(url)
    status, _ = player.transport(
        f"{path.path}?{path.query}", _params(sid, SpeechResult="STOP"), signature
    )
    assert status == 403 and fake_llm.requests == []


def test_turn_for_a_call_that_is_not_ours_hangs_up_and_stores_nothing(
    fake_twilio, fake_llm, queued, player
):
    sid = _answered(fake_twilio, queued, player)
    status, twiml = player.post(_turn_url(queued, 1), _params("CA" + "f" * 32, SpeechResult="Hi"))
    assert status == 200 and "<Hangup />" in twiml and "<Say" not in twiml
    other = _turn_url(queued, 1).replace(f"m={queued.pk}", f"m={queued.pk + 1000}")
    status, twiml = player.post(other, _params(sid, SpeechResult="Hi"))
    assert "<Hangup />" in twiml
    status, twiml = player.post(
        f"https://herald.example.com/webhooks/twilio/voice/answer?m={queued.pk + 1000}",
        _params("CA" + "e" * 32, AnsweredBy="human"),
    )
    assert "<Hangup />" in twiml
    assert VoiceTurn.objects.count() == 1 and VoiceCall.objects.count() == 1
    assert fake_llm.requests == []


def test_turn_after_the_call_ended_hangs_up_without_the_model(
    fake_twilio, fake_llm, queued, player
):
    fake_llm.script(fake.decision("end", "Bye!"))
    sid = _answered(fake_twilio, queued, player)
    player.post(_turn_url(queued, 1), _params(sid, SpeechResult="Bye"))
    status, twiml = player.post(_turn_url(queued, 2), _params(sid, SpeechResult="Wait"))
    assert "<Hangup />" in twiml and "<Say" not in twiml
    assert len(fake_llm.requests) == 1


def test_huge_speech_is_capped_before_the_model(fake_twilio, fake_llm, queued, player):
    fake_llm.script(fake.decision("reply", "I see."))
    sid = _answered(fake_twilio, queued, player)
    status, twiml = player.post(_turn_url(queued, 1), _params(sid, SpeechResult="blah " * 5000))
    assert status == 200 and "I see." in twiml
    turn = VoiceTurn.objects.get(call__call_sid=sid, number=1)
    assert len(turn.speech) == voice.MAX_SPEECH_CHARS
    assert "blah " * 300 not in fake_llm.requests[0].text  # each turn is capped in the context


def test_contact_opted_out_during_the_call_is_let_go_politely(
    fake_twilio, fake_llm, queued, player
):
    sid = _answered(fake_twilio, queued, player)
    contact_opt_out(contact=queued.contact, reason="manual")
    status, twiml = player.post(_turn_url(queued, 1), _params(sid, SpeechResult="Yes"))
    assert voice.OPTED_OUT_LINE in twiml and "<Hangup />" in twiml
    assert fake_llm.requests == [] and _call(sid).ending == "opted_out"


def test_near_the_max_duration_the_agent_wraps_up(fake_twilio, fake_llm, queued, player):
    sid = _answered(fake_twilio, queued, player)
    VoiceCall.objects.filter(call_sid=sid).update(
        started_at=timezone.now() - timedelta(seconds=280)
    )
    status, twiml = player.post(_turn_url(queued, 1), _params(sid, SpeechResult="Tell me more"))
    assert voice.WRAP_UP_LINE in twiml and "<Hangup />" in twiml
    assert fake_llm.requests == [] and _call(sid).ending == "time_limit"


@pytest.mark.parametrize("outcome", ["busy", "no-answer"])
def test_unanswered_call_is_retried_and_opens_no_conversation(
    fake_twilio, fake_llm, queued, player, outcome
):
    Campaign.objects.filter(pk=queued.campaign_id).update(max_retries=1)
    sid = _place(fake_twilio, queued)
    played = player.play(sid, outcome=outcome)
    assert played.callbacks[-1] == (outcome, 200)
    queued.refresh_from_db()
    assert queued.status == "queued" and queued.error_code == outcome
    assert not VoiceCall.objects.exists()


def _thread(contact):
    conversation = Conversation.objects.get(contact=contact)
    turns = list(conversation.turns.values_list("direction", "author", "channel", "body"))
    return conversation, turns


def test_the_call_is_a_voice_transcript_in_the_contacts_conversation(
    fake_twilio, fake_llm, queued, player
):
    fake_llm.script(
        fake.decision("reply", "Great. Does 3 pm suit you?"),
        fake.decision("handoff", "", "wants to talk about the price"),
    )
    sid = _place(fake_twilio, queued)
    player.play(sid, speech=["Yes", "How much is it?"])
    conversation, turns = _thread(queued.contact)
    assert turns[:5] == [
        ("out", "campaign", "voice", OPENING),
        ("in", "contact", "voice", "Yes"),
        ("out", "agent", "voice", "Great. Does 3 pm suit you?"),
        ("in", "contact", "voice", "How much is it?"),
        ("out", "agent", "voice", voice.HANDOFF_LINE),
    ]
    assert turns[5][0] == "event"  # the handoff, said in the thread
    assert conversation.status == "human" and conversation.handoff_reason.startswith("wants")
    assert conversation.campaign_id == queued.campaign_id and conversation.unread
    assert _call(sid).conversation_id == conversation.pk
    assert conversation.turns.get(author="campaign").message_id == queued.pk


def test_opting_out_or_ending_on_the_call_closes_the_conversation(
    fake_twilio, fake_llm, queued, player
):
    fake_llm.script(fake.decision("opt_out", "", "stop"))
    player.play(_place(fake_twilio, queued), speech=["Don't call me again"])
    conversation, turns = _thread(queued.contact)
    assert conversation.status == "closed"
    assert ("out", "agent", "voice", voice.OPT_OUT_LINE) in turns


def test_voicemail_is_in_the_conversation_and_a_machine_that_hung_up_is_not(
    fake_twilio, fake_llm, queued, player
):
    player.play(_place(fake_twilio, queued), answered_by="machine_end_beep")
    conversation, turns = _thread(queued.contact)
    assert turns[0] == ("out", "campaign", "voice", OPENING)
    assert turns[1][0] == "event" and "voicemail" in turns[1][3]
    assert conversation.status == "agent" and not conversation.unread


def test_the_call_follows_the_agents_brief_and_model(fake_twilio, fake_llm, queued, player):
    Agent.objects.filter(pk=queued.campaign.agent_id).update(
        knowledge="Visits cost 40 dollars.",
        goal="Confirm the visit.",
        handoff_rules="Billing questions go to a person.",
        model="voice-model",
    )
    fake_llm.script(fake.decision("end", "Bye!"))
    player.play(_place(fake_twilio, queued), speech=["How much is it?"])
    (request,) = fake_llm.requests
    assert request.body["model"] == "voice-model"
    for text in ("Visits cost 40 dollars.", "Confirm the visit.", "Billing questions go"):
        assert text in request.text


def test_over_the_daily_token_budget_the_call_is_handed_to_a_person(
    fake_twilio, fake_llm, queued, player, settings
):
    settings.HERALD_LLM_DAILY_TOKENS = 200
    fake_llm.set_default(lambda body: fake.decision("reply", "Sure, go on."))  # 150 tokens each
    sid = _place(fake_twilio, queued)
    played = player.play(sid, speech=["Yes", "And then?", "Hello?"])
    assert played.said == [OPENING, "Sure, go on.", "Sure, go on.", voice.HANDOFF_LINE]
    assert len(fake_llm.requests) == 2
    call = _call(sid)
    assert call.handoff and "daily AI budget" in call.handoff_reason
    assert workspace_tokens_today(queued.workspace_id) == 300  # SMS answers count calls too


def test_the_call_speaks_and_listens_in_the_agents_language(
    fake_twilio, fake_llm, queued, player, client_logged_in
):
    agent = queued.campaign.agent
    form = {"name": "Ava", "voice": "Polly.Mia", "max_call_seconds": "120", "language": "es-MX"}
    response = client_logged_in.post(f"/conversations/agents/{agent.pk}/", form)
    assert response.status_code == 302
    bad = client_logged_in.post(f"/conversations/agents/{agent.pk}/", form | {"language": "<x>"})
    assert "Use a language tag" in bad.content.decode()
    agent.refresh_from_db()
    assert agent.language == "es-MX"
    played = player.play(_place(fake_twilio, queued), speech=[])
    first = played.exchanges[0].twiml
    assert '<Say language="es-MX" voice="Polly.Mia">' in first
    assert first.count('language="es-MX"') == 2  # the Gather's speech recognition too


def _gather(twiml: str):
    return ET.fromstring(twiml).find("Gather")


def test_the_call_listens_with_the_agents_words_and_the_contacts_name(
    fake_twilio, fake_llm, queued, player, client_logged_in
):
    agent = queued.campaign.agent
    queued.contact.last_name = "O'Neil, Jr."  # a comma would split the hint in two
    queued.contact.save()
    form = {"name": "Ava", "voice": "Polly.Joanna", "max_call_seconds": "300"}
    words = "Acme  Dental\nroot canal, Dr. Okafor\nacme dental\n\n"
    response = client_logged_in.post(
        f"/conversations/agents/{agent.pk}/", form | {"speech_hints": words}
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.speech_hints == "Acme Dental\nroot canal\nDr. Okafor"  # one each, no repeats
    expected = "Acme Dental, root canal, Dr. Okafor, Ann, O'Neil Jr., Ann O'Neil Jr., Ava"
    assert voice.speech_hints(agent, queued.contact) == expected

    fake_llm.script(fake.decision("reply", "Great. Does 3 pm suit you?"))
    played = player.play(_place(fake_twilio, queued), speech=["Yes", None, None])
    # Every <Gather> of the call (the opening's, the reply's, the reprompt's) listens with
    # them, written as the twilio library writes the attribute.
    listening = [e.twiml for e in played.exchanges if "<Gather" in e.twiml]
    assert len(listening) == 3
    assert all(_gather(twiml).get("hints") == expected for twiml in listening)
    reference = VoiceResponse()
    reference.append(Gather(input="speech", hints=expected))
    assert _gather(str(reference)).get("hints") == expected
    assert 'hints="Acme Dental, root canal, Dr. Okafor, Ann, O' in listening[0]


def test_speech_hints_refused_when_twilio_would_refuse_them(queued, client_logged_in):
    agent = queued.campaign.agent
    form = {"name": "Ava", "voice": "Polly.Joanna", "max_call_seconds": "300"}
    url = f"/conversations/agents/{agent.pk}/"
    long = client_logged_in.post(url, form | {"speech_hints": "ok\n" + "x" * 101})
    assert "Keep each word or phrase under 100 characters" in long.content.decode()
    many = ", ".join(f"word{i}" for i in range(451))
    too_many = client_logged_in.post(url, form | {"speech_hints": many})
    assert "At most 450 words or phrases" in too_many.content.decode()
    nul = client_logged_in.post(url, form | {"speech_hints": "a\x00b"})
    assert "NUL" in nul.content.decode()
    agent.refresh_from_db()
    assert agent.speech_hints == ""  # nothing half-written
    assert 'hints="' not in voice._listen(1, 1, "Hello", None)  # nothing to hint: no attribute
