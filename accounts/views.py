from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from .decorators import manager_required, workspace_required
from .forms import ApiKeyCreateForm, WorkspaceSettingsForm
from .middleware import SESSION_KEY
from .models import ApiKey
from .services import (
    api_key_create,
    api_key_revoke,
    member_api_keys,
    membership_remove,
    user_workspaces,
    workspace_inbound_email_secret_rotate,
)


@workspace_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    workspace = get_object_or_404(user_workspaces(request.user), pk=request.POST.get("workspace"))
    request.session[SESSION_KEY] = workspace.pk
    messages.success(request, f"Switched to {workspace.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "contacts:contact-list"
    return redirect(target)


@workspace_required
@require_http_methods(["GET", "POST"])
def workspace_settings(request: HttpRequest) -> HttpResponse:
    form = WorkspaceSettingsForm(instance=request.workspace)
    if request.method == "POST":
        if not request.membership.is_manager:
            messages.error(request, "Only owners and admins can change workspace settings.")
            return redirect("accounts:workspace-settings")
        form = WorkspaceSettingsForm(request.POST, instance=request.workspace)
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            return redirect("accounts:workspace-settings")
    return _settings_page(request, form=form)


def _choice_labels(choices) -> dict:
    """A field's choices as value → label, option groups flattened."""
    labels = {}
    for value, label in choices or ():
        if isinstance(label, list | tuple):
            labels.update(_choice_labels(label))
        else:
            labels[str(value).lower()] = str(label)
    return labels


def settings_rows(form) -> list[tuple[str, str]]:
    """The settings as (label, value) to read: what a member sees instead of inputs that
    could not be saved."""
    rows = []
    for field in form:
        value = field.value()
        labels = _choice_labels(getattr(field.field, "choices", None))
        if isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif value in (None, ""):
            shown = "—"
        elif labels:
            shown = ", ".join(labels.get(str(v).lower(), str(v)) for v in str(value).split())
        else:
            shown = str(value)
        rows.append((str(field.label), shown))
    return rows


def _settings_page(request: HttpRequest, *, form=None, key_form=None, new_key=None, status=200):
    form = form or WorkspaceSettingsForm(instance=request.workspace)
    return render(
        request,
        "accounts/workspace_settings.html",
        {
            "form": form,
            "settings_rows": None if request.membership.is_manager else settings_rows(form),
            "api_keys": ApiKey.objects.for_workspace(request.workspace).select_related(
                "created_by"
            ),
            "key_form": key_form or ApiKeyCreateForm(),
            "new_key": new_key,
            "inbound_email": _inbound_email(request),
            "members": request.workspace.memberships.select_related("user").order_by(
                "user__username"
            ),
        },
        status=status,
    )


def _inbound_email(request: HttpRequest) -> dict:
    """Where the mail provider posts replies, and the secret it signs them with (managers
    only: it lets anyone who holds it write into the workspace's conversations)."""
    workspace = request.workspace
    path = reverse("messaging:email-inbound", args=[workspace.pk])
    if settings.PUBLIC_BASE_URL_SET:
        url = settings.PUBLIC_BASE_URL + path
    else:  # the address this page was reached at, port included
        url = request.build_absolute_uri(path)
    return {
        "url": url,
        "url_configured": settings.PUBLIC_BASE_URL_SET,
        "reply_to": settings.HERALD_REPLY_TO_EMAIL,
        "secret": workspace.inbound_email_secret if request.membership.is_manager else "",
        "enabled": bool(workspace.inbound_email_secret),
    }


@manager_required
@require_POST
def inbound_email_secret_new(request: HttpRequest) -> HttpResponse:
    workspace_inbound_email_secret_rotate(workspace=request.workspace)
    messages.success(
        request, "New inbound email secret: update your mail provider's webhook with it."
    )
    return redirect(reverse("accounts:workspace-settings") + "#inbound-email-heading")


@manager_required
@require_POST
def api_key_new(request: HttpRequest) -> HttpResponse:
    """Create a key and show its secret in this very response (201), never again.

    The secret goes nowhere else: not into the session (whose store would keep it until
    the next page), not into a redirect. Only its hash is stored.
    """
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the key a name.")
        return _settings_page(request, key_form=form, status=400)
    key, raw = api_key_create(
        workspace=request.workspace, name=form.cleaned_data["name"], created_by=request.user
    )
    messages.success(request, f"API key “{key.name}” created. Copy it now: it is shown only once.")
    return _settings_page(request, new_key={"name": key.name, "secret": raw}, status=201)


@manager_required
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Confirm, then remove a member; the form offers to revoke the API keys they created."""
    target = get_object_or_404(
        request.workspace.memberships.select_related("user"), pk=membership_id
    )
    keys = member_api_keys(workspace=request.workspace, user=target.user)
    error = ""
    if request.method == "POST":
        try:
            _, revoked = membership_remove(
                workspace=request.workspace,
                membership_id=target.pk,
                by=request.membership,
                revoke_keys=request.POST.get("revoke_keys") == "1",
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            name = target.user.get_username()
            note = f" and {revoked} API key{pluralize(revoked)} revoked" if revoked else ""
            messages.success(request, f"{name} removed from the workspace{note}.")
            if target.user_id == request.user.pk:
                return redirect("home")
            return redirect("accounts:workspace-settings")
    return render(
        request,
        "accounts/member_remove.html",
        {"target": target, "keys": keys, "error": error},
        status=400 if error else 200,
    )


@manager_required
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.for_workspace(request.workspace), pk=key_id)
    api_key_revoke(workspace=request.workspace, key_id=key.pk)
    messages.success(request, f"API key “{key.name}” revoked.")
    return redirect("accounts:workspace-settings")
