"""The inbox (V2): the list of threads, a thread with its contact, and what a person does in
it (reply, take over, hand back to the agent, close, reopen, assign).

Every lookup is scoped to request.workspace (another workspace's thread is a 404); every
write is a POST with the CSRF token (htmx sends it from the body's hx-headers). Text from the
contact and the model is only ever rendered through Django's autoescaping.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import workspace_required
from accounts.models import Membership
from core.htmx import render_htmx
from messaging.templating import sms_segments

from . import selectors, threads
from .models import Agent, Conversation
from .selectors import VIEWS, InboxFilters

ACTIONS = {
    "take-over": "Taken over: the agent stays silent.",
    "hand-back": "Handed back to the agent.",
    "close": "Conversation closed.",
    "reopen": "Conversation reopened.",
}


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    conversation = selectors.conversation_get(workspace=request.workspace, pk=pk)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@require_http_methods(["GET"])
@workspace_required
def inbox(request: HttpRequest) -> HttpResponse:
    filters = InboxFilters.from_query(request.GET)
    page = selectors.conversation_list(
        workspace=request.workspace,
        filters=filters,
        user=request.user,
        cursor=request.GET.get("after", ""),
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "page": page,
        "filters": filters,
        "views": VIEWS,
        "query": query.urlencode(),
        "campaigns": _campaigns(request),
        "agents": Agent.objects.for_workspace(request.workspace).only("id", "name"),
        "paged": bool(request.GET.get("after")),
    }
    return render_htmx(request, "conversations/inbox.html", context, fragments=("inbox-list",))


def _campaigns(request: HttpRequest):
    from django.apps import apps  # campaigns sits above conversations: no import

    Campaign = apps.get_model("campaigns", "Campaign")
    return Campaign.objects.filter(workspace=request.workspace).only("id", "name").order_by("name")


@require_http_methods(["GET"])
@workspace_required
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    threads.conversation_mark_read(conversation=conversation)
    return _render_thread(request, conversation, data={}, errors={})


def _render_thread(request, conversation, *, data, errors, status=200) -> HttpResponse:
    members = (
        get_user_model()
        .objects.filter(memberships__workspace=request.workspace)
        .order_by("username")
        .only("id", "username", "first_name", "last_name")
    )
    contact = conversation.contact
    context = {
        "conversation": conversation,
        "contact": contact,
        "turns": selectors.conversation_turns(conversation=conversation),
        "agent_reply_count": selectors.conversation_agent_replies(conversation=conversation),
        "members": members,
        "data": data,
        "errors": errors,
        "counter": sms_segments(data.get("body", "")) if conversation.channel == "sms" else None,
        "reply_to": contact.phone if conversation.channel == "sms" else contact.email,
        "default_subject": (
            threads.reply_subject(conversation) if conversation.channel == "email" else ""
        ),
    }
    return render_htmx(
        request,
        "conversations/conversation_detail.html",
        context,
        fragments=("thread", "reply-form"),
        status=status,
    )


@require_http_methods(["POST"])
@workspace_required
def conversation_reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    data = {"body": request.POST.get("body", ""), "subject": request.POST.get("subject", "")}
    try:
        threads.conversation_reply(
            conversation=conversation, user=request.user, body=data["body"], subject=data["subject"]
        )
    except ValidationError as exc:
        errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
        return _render_thread(request, conversation, data=data, errors=errors)
    url = reverse("conversations:conversation-detail", args=[conversation.pk])
    if getattr(request, "htmx", None):
        return HttpResponseClientRedirect(url)
    messages.success(request, "Reply queued: it leaves within seconds.")
    return redirect(url)


@require_http_methods(["POST"])
@workspace_required
def conversation_counter(request: HttpRequest, pk: int) -> HttpResponse:
    """The reply box's character and segment counter (the builder's rule)."""
    conversation = _conversation(request, pk)
    context = {"counter": sms_segments(request.POST.get("body", "")), "conversation": conversation}
    return render(request, "conversations/conversation_detail.html#counter", context)


@require_http_methods(["POST"])
@workspace_required
def conversation_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    conversation = _conversation(request, pk)
    user = request.user
    try:
        if action == "take-over":
            threads.conversation_take_over(conversation=conversation, user=user)
        elif action == "hand-back":
            threads.conversation_resume_agent(conversation=conversation, user=user)
        elif action == "close":
            threads.conversation_close(conversation=conversation, user=user)
        elif action == "reopen":
            threads.conversation_reopen(conversation=conversation, user=user)
        else:
            raise Http404("No such action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, ACTIONS[action])
    return redirect("conversations:conversation-detail", pk=conversation.pk)


@require_http_methods(["POST"])
@workspace_required
def conversation_assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    raw = request.POST.get("assignee", "")
    assignee = None
    if raw:
        membership = (
            Membership.objects.filter(workspace=request.workspace, user_id=_int(raw))
            .select_related("user")
            .first()
        )
        if membership is None:
            messages.error(request, "Assign to a member of this workspace.")
            return redirect("conversations:conversation-detail", pk=conversation.pk)
        assignee = membership.user
    threads.conversation_assign(conversation=conversation, assignee=assignee, user=request.user)
    messages.success(request, "Assigned." if assignee else "Unassigned.")
    return redirect("conversations:conversation-detail", pk=conversation.pk)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
