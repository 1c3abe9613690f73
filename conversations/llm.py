"""The model call of the LLM responder (V4): one decision per turn from any OpenAI-compatible
Chat Completions server (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp, a LiteLLM proxy),
through the official `openai` client.

The model answers one JSON object, `{"action", "reply", "reason"}`, asked for with
`response_format: json_schema` (Structured Outputs) and, where a server refuses that (llama.cpp
accepts only `json_object`), with `json_object` and the schema described in the prompt; the
fallback is remembered per server and model. Whatever the server promises, the answer is
parsed and validated here (OWASP LLM05): an answer that does not parse, has an unknown action,
an empty or too-long reply, was cut off by the token cap or refused is *invalid*, never a
message. Invalid answers and transient errors (timeouts, connection errors, 408/409/429/5xx)
are retried a bounded number of times; a refusal of the request itself (400/401/403/404) is a
configuration fault and is not. The SDK's own retries are off: one retry policy, here, with a
deadline a voice turn can use. Usage (tokens) and latency are returned with every result,
including failed ones, so budgets count what was really spent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache

import openai
from django.conf import settings

from messaging.templating import sms_segments

logger = logging.getLogger("herald.llm")

ACTIONS = ("reply", "handoff", "end", "opt_out")
DECISION_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)},
        "reply": {"type": "string"},
        "reason": {"type": "string"},
    },
    "required": ["action", "reply", "reason"],
    "additionalProperties": False,
}
JSON_SCHEMA, JSON_OBJECT = "json_schema", "json_object"
_RETRYABLE_STATUS = {408, 409, 429}
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
# Links: a scheme or www., or a bare domain with a common top-level domain ("bit.ly/x").
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')]+"
    r"|\b[\w.-]+\.(?:com|net|org|io|co|ly|me|info|biz|app|link|xyz)(?:/\S*)?\b",
    re.IGNORECASE,
)
_LONG_NUMBER = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Servers known (this process) to refuse json_schema: (base_url, model) pairs.
_json_object_only: set[tuple[str, str]] = set()


class InvalidAnswer(Exception):
    """The model answered, but not with a decision we may act on."""


@dataclass(frozen=True)
class Decision:
    action: str
    reply: str
    reason: str


@dataclass
class ModelResult:
    """A decision, or the reason there is none; what it cost either way."""

    decision: Decision | None
    error: str = ""
    model: str = ""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    usage_reported: bool = False
    latency_ms: int = 0
    response_format: str = ""
    raw: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.decision is not None


@dataclass(frozen=True)
class ReplyLimit:
    """What a reply may be: how long (characters, and SMS segments), and which links and
    long numbers it may hold: only those found in `known_text` (the context the model was
    given), so an injected or invented URL or phone number is an invalid answer."""

    max_chars: int
    max_segments: int | None = None
    known_text: str | None = None


def llm_configured() -> bool:
    """Whether a model server and a model are set (HERALD_LLM_BASE_URL, HERALD_LLM_MODEL)."""
    return bool(settings.HERALD_LLM_BASE_URL and settings.HERALD_LLM_MODEL)


def model_name(override: str = "") -> str:
    return (override or "").strip() or settings.HERALD_LLM_MODEL


@lru_cache(maxsize=8)
def _client(base_url: str, api_key: str, timeout: float, connect: float) -> openai.OpenAI:
    # One client (one connection pool) per configuration, shared by the worker's threads.
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key or "not-needed",  # local servers ignore it; the client requires one
        timeout=openai.Timeout(timeout, connect=connect),
        max_retries=0,
    )


def model_decide(
    *,
    messages: list[dict],
    limit: ReplyLimit,
    model: str = "",
    attempts: int | None = None,
    deadline_seconds: float | None = None,
) -> ModelResult:
    """Ask the model for one decision, retrying transient failures and invalid answers.

    `deadline_seconds` bounds the whole call (a voice turn must answer Twilio within 15 s):
    no attempt starts after it, and each attempt's timeout is cut to what is left.
    """
    name = model_name(model)
    result = ModelResult(decision=None, model=name)
    if not llm_configured() and not model:
        result.error = "No model is configured (HERALD_LLM_BASE_URL and HERALD_LLM_MODEL)."
        return result
    started = time.monotonic()
    deadline = started + deadline_seconds if deadline_seconds else None
    allowed = attempts or settings.HERALD_LLM_ATTEMPTS
    conversation = list(messages)
    while result.attempts < allowed:
        timeout = _attempt_timeout(deadline)
        if timeout is None:
            result.errors.append("Out of time before another attempt.")
            break
        result.attempts += 1
        try:
            result.decision = _attempt(conversation, limit, name, timeout, result)
            break
        except InvalidAnswer as exc:
            result.errors.append(f"Invalid answer: {exc}")
            conversation = [*messages, _correction(str(exc), limit)]
        except openai.APIStatusError as exc:
            result.errors.append(_status_error(exc))
            if not _retryable(exc):
                break
            _backoff(exc, result.attempts, deadline)
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            result.errors.append(f"{type(exc).__name__}: {exc}")
            _backoff(None, result.attempts, deadline)
    result.latency_ms = int((time.monotonic() - started) * 1000)
    if result.decision is None:
        result.error = result.errors[-1] if result.errors else "The model gave no answer."
        logger.warning("Model %s gave no decision: %s", name, "; ".join(result.errors))
    return result


def _attempt_timeout(deadline: float | None) -> float | None:
    timeout = float(settings.HERALD_LLM_TIMEOUT_SECONDS)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    return min(timeout, left) if left > 0.2 else None


def _attempt(messages, limit: ReplyLimit, model: str, timeout: float, result: ModelResult):
    base_url = settings.HERALD_LLM_BASE_URL
    client = _client(
        base_url,
        settings.HERALD_LLM_API_KEY,
        float(settings.HERALD_LLM_TIMEOUT_SECONDS),
        float(settings.HERALD_LLM_CONNECT_TIMEOUT_SECONDS),
    ).with_options(timeout=timeout)
    kind = _format_for(base_url, model)
    try:
        completion = client.chat.completions.create(**_request(messages, model, kind))
    except openai.BadRequestError as exc:
        if kind != JSON_SCHEMA or not _refuses_json_schema(exc):
            raise
        logger.info("%s refuses json_schema for %s; using json_object from now on", base_url, model)
        _json_object_only.add((base_url, model))
        kind = JSON_OBJECT
        completion = client.chat.completions.create(**_request(messages, model, kind))
    result.response_format = kind
    _add_usage(result, completion)
    choice = completion.choices[0] if completion.choices else None
    if choice is None:
        raise InvalidAnswer("the answer had no choices")
    content = choice.message.content if choice.message else None
    result.raw = (content or "")[:4000]
    refusal = getattr(choice.message, "refusal", None) if choice.message else None
    return decision_parse(content, finish_reason=choice.finish_reason, refusal=refusal, limit=limit)


def _format_for(base_url: str, model: str) -> str:
    configured = settings.HERALD_LLM_RESPONSE_FORMAT
    if configured == JSON_OBJECT or (base_url, model) in _json_object_only:
        return JSON_OBJECT
    return JSON_SCHEMA


def _request(messages: list[dict], model: str, kind: str) -> dict:
    if kind == JSON_SCHEMA:
        response_format = {
            "type": JSON_SCHEMA,
            "json_schema": {"name": "agent_decision", "strict": True, "schema": DECISION_SCHEMA},
        }
    else:
        response_format = {"type": JSON_OBJECT}
    request = {
        "model": model,
        "messages": messages,
        "response_format": response_format,
        "temperature": float(settings.HERALD_LLM_TEMPERATURE),
    }
    # `max_tokens` is what Ollama, vLLM and llama.cpp read; OpenAI's newer models want
    # `max_completion_tokens`: the field's name is a setting.
    request[settings.HERALD_LLM_MAX_TOKENS_FIELD] = int(settings.HERALD_LLM_MAX_TOKENS)
    return request


def _refuses_json_schema(exc: openai.BadRequestError) -> bool:
    text = str(exc).lower()
    return "json_schema" in text or "response_format" in text or "json_object" in text


def _add_usage(result: ModelResult, completion) -> None:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return
    result.usage_reported = True
    result.prompt_tokens += int(usage.prompt_tokens or 0)
    result.completion_tokens += int(usage.completion_tokens or 0)
    result.total_tokens += int(usage.total_tokens or 0)


def _retryable(exc: openai.APIStatusError) -> bool:
    return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500


def _status_error(exc: openai.APIStatusError) -> str:
    message = exc.message if isinstance(exc.message, str) else str(exc)
    if exc.status_code in (401, 403):
        return f"The model server refused the key ({exc.status_code}): check HERALD_LLM_API_KEY."
    if exc.status_code == 404:
        return f"The model server does not know this model or path (404): {message[:300]}"
    return f"The model server answered {exc.status_code}: {message[:300]}"


def _backoff(exc: openai.APIStatusError | None, attempt: int, deadline: float | None) -> None:
    """Wait before the next attempt: the server's Retry-After when short, else 0.5·2^n s."""
    delay = min(0.5 * 2 ** (attempt - 1), 4.0)
    if exc is not None and exc.response is not None:
        header = exc.response.headers.get("retry-after")
        with contextlib.suppress(ValueError):
            delay = min(float(header), 8.0) if header is not None else delay
    if deadline is not None:
        delay = min(delay, max(deadline - time.monotonic() - 0.5, 0))
    if delay > 0:
        time.sleep(delay)


def _correction(problem: str, limit: ReplyLimit) -> dict:
    return {
        "role": "user",
        "content": (
            f"Your previous answer was rejected ({problem}). Answer again with only the JSON "
            f'object {{"action", "reply", "reason"}}; the reply must be plain text of at most '
            f"{limit.max_chars} characters."
        ),
    }


def decision_parse(
    content: str | None, *, finish_reason: str | None, refusal: str | None, limit: ReplyLimit
) -> Decision:
    """The decision in a model's answer, or InvalidAnswer saying what is wrong with it."""
    if refusal:
        raise InvalidAnswer(f"the model refused: {refusal[:200]}")
    if finish_reason == "length":
        raise InvalidAnswer("the answer was cut off by the token limit")
    if finish_reason == "content_filter":
        raise InvalidAnswer("the answer was stopped by the server's content filter")
    text = (content or "").strip()
    if not text:
        raise InvalidAnswer("the answer was empty")
    if fenced := _FENCE.match(text):  # some models wrap JSON in a Markdown fence anyway
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidAnswer("the answer was not JSON") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer was not a JSON object")
    action = data.get("action")
    if action not in ACTIONS:
        raise InvalidAnswer(f"unknown action {str(action)[:40]!r}")
    reply, reason = data.get("reply") or "", data.get("reason") or ""
    if not isinstance(reply, str) or not isinstance(reason, str):
        raise InvalidAnswer("reply and reason must be strings")
    reply = _CONTROL.sub("", reply).strip()
    if action == "reply" and not reply:
        raise InvalidAnswer("the reply was empty")
    _check_length(reply, limit)
    _check_links(reply, limit)
    return Decision(action=action, reply=reply, reason=_CONTROL.sub("", reason).strip()[:500])


def _check_length(reply: str, limit: ReplyLimit) -> None:
    if len(reply) > limit.max_chars:
        raise InvalidAnswer(f"the reply was too long ({len(reply)} > {limit.max_chars} characters)")
    if limit.max_segments:
        segments = sms_segments(reply).segments
        if segments > limit.max_segments:
            raise InvalidAnswer(
                f"the reply was too long ({segments} SMS segments > {limit.max_segments})"
            )


def _check_links(reply: str, limit: ReplyLimit) -> None:
    if limit.known_text is None:
        return
    known = limit.known_text.lower()
    for link in _LINK.findall(reply):
        if link.lower().rstrip(".,;:!?") not in known:
            raise InvalidAnswer(f"the reply holds a link that is not in the context: {link[:80]}")
    known_numbers = [_digits(n) for n in _LONG_NUMBER.findall(known)]
    for number in _LONG_NUMBER.findall(reply):
        digits = _digits(number)
        if _DATE.match(number.strip()):
            continue
        if len(digits) >= 7 and not any(_same_number(digits, k) for k in known_numbers):
            raise InvalidAnswer("the reply holds a phone number that is not in the context")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _same_number(a: str, b: str) -> bool:
    """The same number written with or without its country code: the shorter one (7 digits
    at least) ends the longer one."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 7 and long.endswith(short)
