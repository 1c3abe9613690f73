from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from .decorators import manager_required, workspace_required
from .forms import ApiKeyCreateForm, WorkspaceSettingsForm
from .middleware import SESSION_KEY
from .models import ApiKey
from .services import api_key_create, api_key_revoke, user_workspaces


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
    return render(
        request,
        "accounts/workspace_settings.html",
        {
            "form": form,
            "api_keys": ApiKey.objects.for_workspace(request.workspace),
            "key_form": ApiKeyCreateForm(),
            "new_key": request.session.pop("new_api_key", None),
        },
    )


@manager_required
@require_POST
def api_key_new(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if form.is_valid():
        key, raw = api_key_create(
            workspace=request.workspace, name=form.cleaned_data["name"], created_by=request.user
        )
        # Shown once, on the next page, then gone: only its hash is stored.
        request.session["new_api_key"] = {"name": key.name, "secret": raw}
        messages.success(
            request, f"API key “{key.name}” created. Copy it now: it is shown only once."
        )
    else:
        messages.error(request, "Give the key a name.")
    return redirect("accounts:workspace-settings")


@manager_required
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.for_workspace(request.workspace), pk=key_id)
    api_key_revoke(workspace=request.workspace, key_id=key.pk)
    messages.success(request, f"API key “{key.name}” revoked.")
    return redirect("accounts:workspace-settings")
