"""Agent pages: the list, the form, each agent's keyword replies and test console (M7, V3)."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from core.htmx import render_htmx

from . import services
from .answering import CONSOLE_TURNS, budget_spent, console_answer, model_available
from .context import Turn
from .models import Agent, AgentRule
from .selectors import agent_stats

AGENT_DEFAULTS = {
    "name": "",
    "opening_message": "",
    "instructions": "",
    "knowledge": "",
    "goal": "",
    "handoff_rules": "",
    "max_turns": 10,
    "max_reply_segments": 2,
    "model": "",
    "voice": "Polly.Joanna",
    "max_call_seconds": 300,
    "language": "en-US",
    "speech_hints": "",
}


def _model_context(agent: Agent | None) -> dict:
    return {
        "default_model": settings.HERALD_LLM_MODEL,
        "model_ready": model_available(agent) if agent else False,
        "stats": agent_stats(agent=agent) if agent else {},
    }


def _agent(request: HttpRequest, pk: int) -> Agent:
    return get_object_or_404(Agent.objects.for_workspace(request.workspace), pk=pk)


@require_http_methods(["GET"])
@workspace_required
def agent_list(request: HttpRequest) -> HttpResponse:
    agents = Agent.objects.for_workspace(request.workspace)
    return render(request, "conversations/agent_list.html", {"agents": agents})


@require_http_methods(["GET", "POST"])
@workspace_required
def agent_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    agent = _agent(request, pk) if pk else None
    if request.method == "GET":
        data = {key: getattr(agent, key) for key in AGENT_DEFAULTS} if agent else AGENT_DEFAULTS
        context = {"agent": agent, "data": data, "errors": {}, **_model_context(agent)}
        return render(request, "conversations/agent_form.html", context)
    try:
        if agent is None:
            services.agent_create(workspace=request.workspace, data=request.POST)
        else:
            services.agent_update(agent=agent, data=request.POST)
    except ValidationError as exc:
        errors = {key: " ".join(value) for key, value in exc.message_dict.items()}
        context = {"agent": agent, "data": request.POST, "errors": errors, **_model_context(agent)}
        return render(request, "conversations/agent_form.html", context)
    messages.success(request, "Agent saved.")
    return redirect("conversations:agent-list")


@require_http_methods(["GET", "POST"])
@workspace_required
def agent_rules(request: HttpRequest, pk: int) -> HttpResponse:
    """An agent's keyword replies: the list and the form to add one (M7)."""
    agent = _agent(request, pk)
    data, errors = {}, {}
    if request.method == "POST":
        data = {"keyword": request.POST.get("keyword", ""), "reply": request.POST.get("reply", "")}
        try:
            rule = services.agent_rule_create(agent=agent, **data)
        except ValidationError as exc:
            errors = {key: " ".join(value) for key, value in exc.message_dict.items()}
        else:
            messages.success(request, f"{agent} now answers {rule.keyword}.")
            return redirect("conversations:agent-rules", pk=agent.pk)
    rules = AgentRule.objects.for_workspace(request.workspace).filter(agent=agent)
    context = {"agent": agent, "rules": rules, "data": data, "errors": errors}
    return render(request, "conversations/agent_rules.html", context)


@require_http_methods(["POST"])
@workspace_required
def agent_rule_remove(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    agent = _agent(request, pk)
    if not services.agent_rule_delete(agent=agent, rule_id=rule_id):
        raise Http404("No such rule.")
    messages.success(request, "Reply removed.")
    return redirect("conversations:agent-rules", pk=agent.pk)


@require_http_methods(["GET", "POST"])
@workspace_required
def agent_console(request: HttpRequest, pk: int) -> HttpResponse:
    """Chat with the agent as a sample contact: a real model call, nothing stored or sent.
    The thread so far travels in the form (it is the tester's own text)."""
    agent = _agent(request, pk)
    history = _history(request.POST.get("history", "")) if request.method == "POST" else []
    result, error = None, ""
    text = (request.POST.get("message") or "").strip()[:1500]
    if request.method == "POST" and request.POST.get("reset"):
        history = []
    elif request.method == "POST" and not text:
        error = "Write a message as the contact."
    elif request.method == "POST":
        if not model_available(agent):
            error = "No AI model is connected: see the agent page."
        elif (spent := budget_spent(request.workspace)) is not None:
            error = (
                f"{spent} The console, like the agents, asks the model again tomorrow; "
                "an owner or admin can raise the budget in the workspace settings."
            )
        else:
            history.append({"author": "contact", "text": text})
            turns = [Turn(author=t["author"], text=t["text"]) for t in history]
            result = console_answer(agent=agent, turns=turns)
            if result.decision is not None and result.decision.reply:
                history.append({"author": "agent", "text": result.decision.reply})
    context = {
        "agent": agent,
        "history": history,
        "history_json": json.dumps(history[-CONSOLE_TURNS:]),
        "result": result,
        "error": error,
        "model_ready": model_available(agent),
    }
    return render_htmx(request, "conversations/agent_console.html", context, fragments=("console",))


def _history(raw: str) -> list[dict]:
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {"author": i["author"], "text": str(i["text"])[:1500]}
        for i in items[-CONSOLE_TURNS:]
        if isinstance(i, dict) and i.get("author") in ("contact", "agent") and "text" in i
    ]


@require_http_methods(["POST"])
@workspace_required
def agent_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete an agent no scheduled or running campaign uses (those are named instead)."""
    agent = _agent(request, pk)
    try:
        services.agent_delete(agent=agent)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Agent {agent.name} deleted.")
    return redirect("conversations:agent-list")
