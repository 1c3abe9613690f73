"""Email unsubscribe (M6): a confirm page and the RFC 8058 one-click POST.

The POST is CSRF-exempt, as RFC 8058 requires (mail providers post without a session): the
signed token in the URL is the only authority, and it cannot be forged or edited.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from campaigns.models import Agent
from contacts.models import Contact
from core.htmx import render_htmx

from .agent_rules import agent_rule_create, agent_rule_delete
from .models import AgentRule
from .templatetags.messaging_activity import activity_context, page_number
from .unsubscribe import contact_unsubscribe, unsubscribe_contact


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    contact = unsubscribe_contact(token)
    if contact is None:
        return render(request, "messaging/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        contact_unsubscribe(
            contact=contact, detail="One-click unsubscribe" if one_click else "Unsubscribe link"
        )
        if one_click:
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        return render(request, "messaging/unsubscribe_done.html", {"contact": contact})
    return render(request, "messaging/unsubscribe_confirm.html", {"contact": contact})


@workspace_required
@require_http_methods(["GET"])
def contact_activity(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The Activity panel alone (htmx paging); a plain request goes to the contact page."""
    contact = get_object_or_404(Contact.objects.for_workspace(request.workspace), pk=contact_id)
    page = page_number(request.GET.get("page"))
    if not request.htmx:
        url = reverse("contacts:contact-detail", args=[contact.pk])
        return redirect(f"{url}?activity_page={page}#activity")
    return render_htmx(
        request,
        "messaging/_contact_activity.html",
        activity_context(request, contact, page),
        fragments={"contact-activity": "activity-panel"},
    )


@workspace_required
@require_http_methods(["GET", "POST"])
def agent_rules(request: HttpRequest, agent_id: int) -> HttpResponse:
    """An agent's keyword replies: the list and the form to add one (M7)."""
    agent = get_object_or_404(Agent.objects.for_workspace(request.workspace), pk=agent_id)
    data, errors = {}, {}
    if request.method == "POST":
        data = {"keyword": request.POST.get("keyword", ""), "reply": request.POST.get("reply", "")}
        try:
            rule = agent_rule_create(agent=agent, **data)
        except ValidationError as exc:
            errors = {key: " ".join(value) for key, value in exc.message_dict.items()}
        else:
            messages.success(request, f"{agent} now answers {rule.keyword}.")
            return redirect("messaging:agent-rules", agent_id=agent.pk)
    rules = AgentRule.objects.for_workspace(request.workspace).filter(agent=agent)
    context = {"agent": agent, "rules": rules, "data": data, "errors": errors}
    return render(request, "messaging/agent_rules.html", context)


@workspace_required
@require_http_methods(["POST"])
def agent_rule_remove(request: HttpRequest, agent_id: int, rule_id: int) -> HttpResponse:
    agent = get_object_or_404(Agent.objects.for_workspace(request.workspace), pk=agent_id)
    if not agent_rule_delete(workspace=request.workspace, rule_id=rule_id):
        raise Http404("No such rule.")
    messages.success(request, "Reply removed.")
    return redirect("messaging:agent-rules", agent_id=agent.pk)
