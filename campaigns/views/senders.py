"""The workspace's senders (K3): phone numbers and email From identities."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from messaging import senders
from messaging.models import Sender

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
