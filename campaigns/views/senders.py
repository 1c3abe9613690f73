"""The workspace's senders (K3): phone numbers and email From identities."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from messaging import senders
from messaging.models import Sender

from ..models import Campaign

SENDER_DEFAULTS = {"channel": "sms", "address": "", "name": "", "rate_limit_per_second": ""}


def _initial(obj, defaults: dict) -> dict:
    return {key: getattr(obj, key) for key in defaults} if obj else dict(defaults)


@require_http_methods(["GET"])
@workspace_required
def sender_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "campaigns/sender_list.html",
        {"senders": Sender.objects.for_workspace(request.workspace)},
    )


@require_http_methods(["GET", "POST"])
@workspace_required
def sender_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    sender = (
        get_object_or_404(Sender.objects.for_workspace(request.workspace), pk=pk) if pk else None
    )
    data = request.POST if request.method == "POST" else _initial(sender, SENDER_DEFAULTS)
    errors: dict = {}
    status = 200
    if request.method == "POST" and not senders.can_manage_numbers(
        membership=request.membership, sender=sender, data=data
    ):
        errors, status = {"address": senders.MANAGERS_ONLY}, 403
    elif request.method == "POST":
        try:
            if sender is None:
                senders.sender_create(workspace=request.workspace, data=data, user=request.user)
            else:
                senders.sender_update(sender=sender, data=data, user=request.user)
            messages.success(request, "Sender saved.")
            return redirect("campaigns:sender-list")
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
    return render(
        request,
        "campaigns/sender_form.html",
        {
            "sender": sender,
            "data": data,
            "errors": errors,
            "channels": Sender.Channel.choices,
            "can_manage_numbers": request.membership.is_manager,
        },
        status=status,
    )


@require_http_methods(["POST"])
@workspace_required
def sender_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a sender that no scheduled, running or paused campaign sends from (those are
    named instead); drafts using it fall back to the provider's default."""
    sender = get_object_or_404(Sender.objects.for_workspace(request.workspace), pk=pk)
    if not senders.can_manage_numbers(
        membership=request.membership, sender=sender, data={"channel": sender.channel}
    ):
        messages.error(request, senders.MANAGERS_ONLY)
        return redirect("campaigns:sender-list")
    active = (Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)
    users = Campaign.objects.for_workspace(request.workspace).filter(
        sender=sender, state__in=active
    )
    if names := [f"“{c.name}” ({c.get_state_display().lower()})" for c in users]:
        messages.error(
            request,
            f"{sender} still sends for {', '.join(names)}: it can be deleted once "
            f"{'that campaign has' if len(names) == 1 else 'those campaigns have'} finished.",
        )
        return redirect("campaigns:sender-list")
    senders.sender_delete(sender=sender)
    messages.success(request, f"Sender {sender} deleted.")
    return redirect("campaigns:sender-list")
