"""Agent keyword replies (M7): the rule set the default responder answers with."""

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Workspace
from campaigns.models import Agent

from .keywords import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS, normalize_keyword
from .models import AgentRule

KEYWORD = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
MAX_REPLY = 640  # four SMS segments


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


def agent_rule_delete(*, workspace: Workspace, rule_id: int) -> bool:
    deleted, _ = AgentRule.objects.for_workspace(workspace).filter(pk=rule_id).delete()
    return bool(deleted)
