"""Agent writes: the agent itself and its keyword → reply rules (M7, V3)."""

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Workspace
from messaging.keywords import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS, normalize_keyword

from .models import Agent, AgentRule

KEYWORD = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
MAX_REPLY = 640  # four SMS segments


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
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "instructions": data.get("instructions") or "",
        "opening_message": data.get("opening_message") or "",
        "voice": (data.get("voice") or "Polly.Joanna").strip()[:60],
        "max_call_seconds": seconds,
    }


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
