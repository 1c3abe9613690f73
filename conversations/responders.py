"""Agent replies to inbound messages (M7), behind an interface an LLM responder can implement.

A responder gets the stored inbound message (with its contact and the message it answers)
and returns the text to send back, or None for no reply. The reply leaves through the outbox
like any other message, so it is rate-limited, retried and tracked the same way.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from messaging.keywords import normalize_keyword
from messaging.models import InboundMessage
from messaging.templating import contact_context, render

from .models import Agent, AgentRule

DEFAULT_RESPONDER = "conversations.responders.KeywordRuleResponder"


class Responder(Protocol):
    def reply(self, inbound: InboundMessage) -> str | None: ...


_UNSET = object()


def inbound_agent(inbound: InboundMessage):
    """The agent of the campaign whose message this inbound answers, if any: one query, once
    per inbound (the thread and the keyword rules both ask)."""
    agent = getattr(inbound, "_campaign_agent", _UNSET)
    if agent is _UNSET:
        message = inbound.in_reply_to
        campaign_id = message.campaign_id if message is not None else None
        agent = (
            Agent.objects.filter(campaigns__id=campaign_id).first()
            if campaign_id is not None
            else None
        )
        inbound._campaign_agent = agent
    return agent


class KeywordRuleResponder:
    """The agent's rule set: a reply that is exactly a rule's keyword gets the rule's text."""

    def reply(self, inbound: InboundMessage) -> str | None:
        agent = inbound_agent(inbound)
        if agent is None:
            return None
        word = normalize_keyword(inbound.body)
        rule = (
            AgentRule.objects.for_workspace(inbound.workspace)
            .filter(agent=agent, keyword__iexact=word)
            .first()
        )
        if rule is None:
            return None
        contact = inbound.contact
        context = contact_context(
            first_name=contact.first_name if contact else "",
            last_name=contact.last_name if contact else "",
            email=contact.email if contact else "",
            phone=contact.phone if contact else inbound.from_address,
            company=contact.company if contact else "",
            metadata=contact.metadata if contact else None,
            agent_name=agent.name,
        )
        return render(rule.reply, context)


def get_responder() -> Responder:
    """HERALD_RESPONDER: a dotted path to a Responder class (default: the keyword rules)."""
    path = (
        getattr(settings, "HERALD_RESPONDER", "") or "conversations.responders.KeywordRuleResponder"
    )
    return import_string(path)()
