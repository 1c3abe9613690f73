"""Agent writes: the agent itself and its keyword → reply rules (M7, V3)."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from accounts.models import Workspace
from messaging.keywords import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS, normalize_keyword

from .models import Agent, AgentRule

KEYWORD = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
MAX_REPLY = 640  # four SMS segments
OPENING_LIMIT = 10_000  # a call's opening script
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")  # BCP-47: en-US, es-419, cmn-Hans-CN
# Twilio's <Gather hints>: at most 500 entries of at most 100 characters (warning 13330); the
# agent's leave room for the contact's and the agent's names, which a call adds.
HINT_CHARS = 100
AGENT_HINTS = 450


def speech_hints_clean(text: str) -> list[str]:
    """The words and phrases of `text` (one per line or comma-separated), each with single
    spaces between its words, without repeats (ignoring case); ValueError saying what is wrong."""
    hints, seen = [], set()
    for part in re.split(r"[,\n]", text or ""):
        hint = " ".join(part.split())
        if not hint or hint.lower() in seen:
            continue
        if len(hint) > HINT_CHARS:
            raise ValueError(
                f"Keep each word or phrase under {HINT_CHARS} characters: {hint[:30]}…"
            )
        seen.add(hint.lower())
        hints.append(hint)
    if len(hints) > AGENT_HINTS:
        raise ValueError(f"At most {AGENT_HINTS} words or phrases.")
    return hints


def agent_clean(*, data: dict) -> dict:
    errors = {}
    name = (data.get("name") or "").strip()[:120]
    if not name:
        errors["name"] = "Give the agent a name."
    try:
        seconds = int(data.get("max_call_seconds") or 300)
        if not 10 <= seconds <= 14400:
            errors["max_call_seconds"] = "Between 10 and 14400 seconds (4 hours)."
    except (TypeError, ValueError):
        errors["max_call_seconds"] = "Must be a whole number of seconds."
        seconds = 300
    turns = _whole(data, "max_turns", 10, 1, 100, errors, "Between 1 and 100 replies.")
    segments = _whole(data, "max_reply_segments", 2, 1, 10, errors, "Between 1 and 10 segments.")
    texts = {}
    for key, limit in TEXT_LIMITS.items():
        texts[key] = str(data.get(key) or "").strip()
        if len(texts[key]) > limit:
            errors[key] = f"Keep it under {limit} characters."
    for key in ("name", "opening_message", "voice", "speech_hints", *TEXT_LIMITS):
        if "\x00" in str(data.get(key) or ""):
            errors[key] = "Contains a NUL character, which cannot be stored."
    language = str(data.get("language") or "en-US").strip()
    if not LANGUAGE.match(language):
        errors["language"] = "Use a language tag such as en-US, en-GB or es-MX."
    if len(str(data.get("opening_message") or "")) > OPENING_LIMIT:
        errors["opening_message"] = f"Keep it under {OPENING_LIMIT:,} characters."
    hints = []
    try:
        hints = speech_hints_clean(str(data.get("speech_hints") or ""))
    except ValueError as exc:
        errors["speech_hints"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "opening_message": data.get("opening_message") or "",
        "voice": (data.get("voice") or "Polly.Joanna").strip()[:60],
        "max_call_seconds": seconds,
        "language": language,
        "speech_hints": "\n".join(hints),
        "max_turns": turns,
        "max_reply_segments": segments,
        **texts,
    }


# What the model reads of an agent is capped (conversations.context caps it again).
TEXT_LIMITS = {
    "instructions": 8000,
    "knowledge": 8000,
    "goal": 1000,
    "handoff_rules": 2000,
    "model": 120,
}
AGENT_FIELDS = (
    "name",
    "opening_message",
    "voice",
    "max_call_seconds",
    "language",
    "speech_hints",
    "max_turns",
    "max_reply_segments",
    *TEXT_LIMITS,
)


def _whole(data, key, default, low, high, errors, message) -> int:
    raw = data.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors[key] = "Must be a whole number."
        return default
    if not low <= value <= high:
        errors[key] = message
    return value


def agent_create(*, workspace: Workspace, data: dict) -> Agent:
    return Agent.objects.create(workspace=workspace, **agent_clean(data=data))


def agent_update(*, agent: Agent, data: dict) -> Agent:
    for key, value in agent_clean(data=data).items():
        setattr(agent, key, value)
    agent.save()
    return agent


def agent_rule_create(*, agent: Agent, keyword: str, reply: str) -> AgentRule:
    """Add a keyword → reply rule; the keyword is one word, stored upper-case."""
    word = normalize_keyword(keyword)
    reply = (reply or "").strip()
    errors = {}
    if not KEYWORD.match(word):
        errors["keyword"] = "Use one word of letters or digits, e.g. CONFIRM."
    elif word in OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS:
        errors["keyword"] = f"{word} is an opt-out/opt-in/help keyword; Herald answers it itself."
    if not reply:
        errors["reply"] = "Write the reply."
    elif len(reply) > MAX_REPLY:
        errors["reply"] = f"Keep the reply under {MAX_REPLY} characters."
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return AgentRule.objects.create(
                workspace_id=agent.workspace_id, agent=agent, keyword=word, reply=reply
            )
    except IntegrityError:
        raise ValidationError({"keyword": f"{agent} already answers {word}."}) from None


def agent_rule_delete(*, agent: Agent, rule_id: int) -> bool:
    rules = AgentRule.objects.filter(workspace_id=agent.workspace_id, agent=agent, pk=rule_id)
    deleted, _ = rules.delete()
    return bool(deleted)


def agent_users(*, agent: Agent) -> list[str]:
    """What still needs the agent (a scheduled or running campaign …), one line each, as the
    apps above conversations report it through settings.HERALD_AGENT_USERS."""
    return [line for path in settings.HERALD_AGENT_USERS for line in import_string(path)(agent)]


def agent_delete(*, agent: Agent) -> None:
    """Delete an agent with its keyword replies; conversations and calls it handled keep
    their history. An agent a scheduled or running campaign uses is refused, naming it."""
    if users := agent_users(agent=agent):
        raise ValidationError(
            f"{agent.name} is still used by "
            + ", ".join(users)
            + ": it can be deleted once "
            + ("that campaign has" if len(users) == 1 else "those campaigns have")
            + " finished, or after choosing another agent there."
        )
    agent.delete()
