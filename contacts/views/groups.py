"""Groups: the side panel with member counts, create, edit, delete (C4)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required

from .. import groups as group_writes
from ..forms import GroupForm
from ..models import ContactGroup
from ..selectors import group_counts
from .common import add_errors, group_or_404


@workspace_required
@require_http_methods(["GET"])
def group_panel(request: HttpRequest) -> HttpResponse:
    """The groups side panel with member counts, loaded after the page (counts cost a scan)."""
    workspace = request.workspace
    sizes, total = group_counts(workspace=workspace)
    groups = list(ContactGroup.objects.for_workspace(workspace))
    for group in groups:
        group.size = sizes.get(group.pk, 0)
    current = request.GET.get("current", "")
    context = {
        "groups": groups,
        "with_counts": True,
        "current_group_id": int(current) if current.isdigit() else None,
        "total_contacts": total,
    }
    return render(request, "contacts/contact_list.html#group-panel", context)


@workspace_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = group_writes.group_create(workspace=request.workspace, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Group “{group.name}” created.")
            return redirect(f"{reverse('contacts:contact-list')}?group={group.pk}")
    return render(request, "contacts/group_form.html", {"form": form, "group": None})


@workspace_required
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    group = group_or_404(request.workspace, group_id)
    initial = {"name": group.name, "description": group.description}
    form = GroupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            group_writes.group_update(group=group, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Group “{group.name}” saved.")
            return redirect(f"{reverse('contacts:contact-list')}?group={group.pk}")
    return render(request, "contacts/group_form.html", {"form": form, "group": group})


@workspace_required
@require_http_methods(["POST"])
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    """Delete a group. One that a campaign still sends to asks first, naming the campaigns;
    the confirmation posts `confirm`."""
    group = group_or_404(request.workspace, group_id)
    name = group.name
    try:
        group_writes.group_delete(group=group, force=request.POST.get("confirm") == "yes")
    except group_writes.GroupInUse as exc:
        context = {"group": group, "users": exc.users}
        return render(request, "contacts/group_delete_confirm.html", context)
    messages.success(request, f"Group “{name}” deleted. Its contacts are kept.")
    return redirect("contacts:contact-list")


@workspace_required
@require_http_methods(["GET"])
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = group_or_404(request.workspace, group_id)
    return redirect(f"{reverse('contacts:contact-list')}?group={group.pk}")
