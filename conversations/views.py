"""Agent pages: the list, the form, and each agent's keyword replies (M7, V3)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required

from . import services
from .models import Agent, AgentRule

AGENT_DEFAULTS = {
    "name": "",
    "opening_message": "",
    "instructions": "",
    "voice": "Polly.Joanna",
    "max_call_seconds": 300,
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
        context = {"agent": agent, "data": data, "errors": {}}
        return render(request, "conversations/agent_form.html", context)
    try:
        if agent is None:
            services.agent_create(workspace=request.workspace, data=request.POST)
        else:
            services.agent_update(agent=agent, data=request.POST)
    except ValidationError as exc:
        errors = {key: " ".join(value) for key, value in exc.message_dict.items()}
        context = {"agent": agent, "data": request.POST, "errors": errors}
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
