"""The model call through the real `openai` client against the fake OpenAI-compatible server."""

import json
import time

import openai
import pytest

from conversations import llm
from conversations.llm import ReplyLimit, model_decide
from tests.fakes import openai as fake
from tests.fakes.llm_fixtures import *  # noqa: F403

MESSAGES = [
    {"role": "system", "content": "You are Ava."},
    {"role": "user", "content": '[{"from": "contact", "text": "Is 9am ok?"}]'},
]
SMS = ReplyLimit(max_chars=306, max_segments=2)


def decide(**kwargs):
    return model_decide(messages=MESSAGES, limit=kwargs.pop("limit", SMS), **kwargs)


def test_decide_returns_the_decision_with_usage_and_latency(fake_llm):
    fake_llm.script(fake.decision("reply", "Yes, 9am works.", ""))
    result = decide()
    assert result.ok
    assert (result.decision.action, result.decision.reply) == ("reply", "Yes, 9am works.")
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (120, 30, 150)
    assert result.usage_reported and result.attempts == 1 and result.latency_ms >= 0
    assert result.response_format == "json_schema"
    (request,) = fake_llm.requests
    assert request.headers["authorization"] == f"Bearer {fake.API_KEY}"
    assert request.body["model"] == fake.MODEL
    assert request.body["messages"] == MESSAGES
    assert request.body["max_tokens"] == 400
    schema = request.body["response_format"]["json_schema"]
    assert schema["strict"] is True
    actions = schema["schema"]["properties"]["action"]["enum"]
    assert actions == ["reply", "handoff", "end", "opt_out"]


def test_decide_uses_the_agent_model_override_and_the_cap_field_setting(fake_llm, settings):
    settings.HERALD_LLM_MAX_TOKENS_FIELD = "max_completion_tokens"
    fake_llm.script(fake.decision("end", "", "goodbye said"))
    result = decide(model="llama3.1:8b")
    assert result.ok and result.model == "llama3.1:8b"
    (request,) = fake_llm.requests
    assert request.body["model"] == "llama3.1:8b"
    assert request.body["max_completion_tokens"] == 400 and "max_tokens" not in request.body


def test_invalid_json_is_retried_with_a_correction(fake_llm):
    fake_llm.script(fake.invalid_json(), fake.decision("reply", "Fine."))
    result = decide()
    assert result.ok and result.attempts == 2
    assert result.errors == ["Invalid answer: the answer was not JSON"]
    first, second = fake_llm.requests
    assert len(second.body["messages"]) == len(first.body["messages"]) + 1
    assert "rejected (the answer was not JSON)" in second.body["messages"][-1]["content"]
    # Both attempts' tokens are counted: the budget pays for what was spent.
    assert result.total_tokens == 300


def test_invalid_answers_every_time_give_no_decision(fake_llm):
    fake_llm.script(fake.invalid_json(), fake.invalid_json(), fake.invalid_json())
    result = decide()
    assert not result.ok and result.decision is None
    assert result.attempts == 3 and len(fake_llm.requests) == 3
    assert "not JSON" in result.error


def test_rate_limit_is_retried(fake_llm):
    fake_llm.script(fake.rate_limited("0"), fake.decision("reply", "Hello"))
    result = decide()
    assert result.ok and result.attempts == 2 and len(fake_llm.requests) == 2
    assert "429" in result.errors[0]


def test_server_errors_are_retried_a_bounded_number_of_times(fake_llm, settings):
    settings.HERALD_LLM_ATTEMPTS = 2
    fake_llm.script(fake.server_error(), fake.server_error(), fake.decision("reply", "late"))
    result = decide()
    assert not result.ok and len(fake_llm.requests) == 2
    assert "500" in result.error


def test_wrong_key_is_not_retried(fake_llm, settings):
    settings.HERALD_LLM_API_KEY = "wrong"
    result = decide()
    assert not result.ok and len(fake_llm.requests) == 1
    assert "HERALD_LLM_API_KEY" in result.error


def test_a_slow_answer_past_the_timeout_is_retried(fake_llm, settings):
    settings.HERALD_LLM_TIMEOUT_SECONDS = 0.5
    fake_llm.script(fake.slow(30), fake.decision("reply", "On time"))
    result = decide()
    assert result.ok and result.decision.reply == "On time"
    assert "APITimeoutError" in result.errors[0]


def test_the_deadline_bounds_the_whole_call(fake_llm, settings):
    settings.HERALD_LLM_TIMEOUT_SECONDS = 20
    fake_llm.script(fake.slow(30), fake.slow(30), fake.slow(30))
    started = time.monotonic()
    result = decide(deadline_seconds=1.0)
    # Far below one slow answer (30 s): the deadline cut the attempt's own timeout.
    assert time.monotonic() - started < 10
    assert not result.ok and len(fake_llm.requests) == 1


def test_missing_usage_is_recorded_as_unreported(fake_llm):
    fake_llm.script(fake.without_usage("No usage"))
    result = decide()
    assert result.ok and not result.usage_reported and result.total_tokens == 0


def test_json_schema_refused_falls_back_to_json_object_and_remembers(fake_llm):
    fake_llm.json_schema_supported = False
    fake_llm.script(fake.decision("reply", "From JSON mode"), fake.decision("reply", "Again"))
    first = decide()
    assert first.ok and first.decision.reply == "From JSON mode"
    assert first.response_format == "json_object"
    assert [r.response_format for r in fake_llm.requests] == ["json_schema", "json_object"]
    second = decide()
    assert second.ok and fake_llm.requests[-1].response_format == "json_object"
    assert len(fake_llm.requests) == 3  # no second refused json_schema request


def test_json_object_can_be_configured(fake_llm, settings):
    settings.HERALD_LLM_RESPONSE_FORMAT = "json_object"
    fake_llm.script(fake.decision("reply", "ok"))
    assert decide().ok
    assert fake_llm.requests[0].body["response_format"] == {"type": "json_object"}


def test_nothing_is_sent_without_a_configured_model(settings, fake_llm):
    settings.HERALD_LLM_BASE_URL = ""
    result = decide()
    assert not result.ok and "No model is configured" in result.error
    assert fake_llm.requests == []


def test_fake_answers_parse_with_strict_response_validation(fake_llm):
    """The fake's body is what the real API returns: the strict client accepts it."""
    client = openai.OpenAI(
        base_url=fake_llm.base_url,
        api_key=fake.API_KEY,
        max_retries=0,
        _strict_response_validation=True,
    )
    fake_llm.script(fake.decision("reply", "strict"), fake.without_usage())
    for _ in range(2):
        completion = client.chat.completions.create(model="m", messages=MESSAGES)
        assert completion.choices[0].message.role == "assistant"


PARSE_CASES = [
    ('{"action": "reply", "reply": "Hi", "reason": ""}', "stop", None, "reply"),
    ('```json\n{"action": "handoff", "reply": "", "reason": "asks for a person"}\n```', "stop",
     None, "handoff"),
    ('{"action": "opt_out", "reply": "", "reason": "stop texting me"}', "stop", None, "opt_out"),
    ('{"action": "end", "reply": "", "reason": ""}', "stop", None, "end"),
    ('{"action": "reply", "reply": "Hi"}', "stop", None, "reply"),  # json_object: no reason
]  # fmt: skip


@pytest.mark.parametrize("content, finish, refusal, action", PARSE_CASES)
def test_decision_parse_accepts(content, finish, refusal, action):
    parsed = llm.decision_parse(content, finish_reason=finish, refusal=refusal, limit=SMS)
    assert parsed.action == action


INVALID_CASES = [
    (None, "stop", None, "empty"),
    ("   ", "stop", None, "empty"),
    ("not json", "stop", None, "not JSON"),
    ('["reply"]', "stop", None, "not a JSON object"),
    ('{"action": "send_to", "reply": "x", "reason": ""}', "stop", None, "unknown action"),
    ('{"action": "reply", "reply": "", "reason": ""}', "stop", None, "reply was empty"),
    ('{"action": "reply", "reply": 5, "reason": ""}', "stop", None, "must be strings"),
    ('{"action": "reply", "reply": "' + "x" * 307 + '", "reason": ""}', "stop", None, "too long"),
    ('{"action": "reply", "reply": "' + "ж" * 150 + '", "reason": ""}', "stop", None,
     "3 SMS segments"),
    ('{"action": "reply", "reply": "Hi', "length", None, "cut off"),
    ('{"action": "reply", "reply": "Hi", "reason": ""}', "content_filter", None, "filter"),
    (None, "stop", "I can't help with that", "refused"),
]  # fmt: skip


@pytest.mark.parametrize("content, finish, refusal, problem", INVALID_CASES)
def test_decision_parse_rejects(content, finish, refusal, problem):
    with pytest.raises(llm.InvalidAnswer, match=problem):
        llm.decision_parse(content, finish_reason=finish, refusal=refusal, limit=SMS)


def test_links_and_numbers_must_come_from_the_context():
    knowledge = "Book at https://acme.example/book or +1 415 555 0100"
    known = ReplyLimit(max_chars=306, known_text=knowledge)
    ok = '{"action": "reply", "reply": "Book at https://acme.example/book, or call 4155550100."}'
    assert llm.decision_parse(ok, finish_reason="stop", refusal=None, limit=known).reply
    for reply in ("Go to http://evil.example/x", "Try bit.ly/abc", "Call +1 212 555 0199"):
        body = json.dumps({"action": "reply", "reply": reply, "reason": ""})
        with pytest.raises(llm.InvalidAnswer, match="not in the context"):
            llm.decision_parse(body, finish_reason="stop", refusal=None, limit=known)
    dated = '{"action": "reply", "reply": "See you on 2026-03-16 at 10:30.", "reason": ""}'
    assert llm.decision_parse(dated, finish_reason="stop", refusal=None, limit=known).reply


def test_control_characters_are_removed_from_the_reply():
    body = '{"action": "reply", "reply": "Hi\\u0000 there\\u001b[31m", "reason": ""}'
    parsed = llm.decision_parse(body, finish_reason="stop", refusal=None, limit=SMS)
    assert parsed.reply == "Hi there[31m"
