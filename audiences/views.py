"""Smart groups in the dashboard (G1, G4): the list with counts, the editor with its live count
and preview (htmx), delete, and "Save as group"."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from core.htmx import render_htmx

from . import editor
from .definition import definition_clean
from .models import SmartGroup
from .selectors import smart_group_count, smart_group_members, smart_group_preview
from .services import (
    SmartGroupInUse,
    smart_group_create,
    smart_group_delete,
    smart_group_freeze,
    smart_group_update,
)

LIST_LIMIT = 100
FRAGMENTS = {"smart-editor", "smart-preview"}


def _smart_group(request: HttpRequest, pk: int) -> SmartGroup:
    return get_object_or_404(SmartGroup.objects.for_workspace(request.workspace), pk=pk)


@require_http_methods(["GET"])
@workspace_required
def smartgroup_list(request: HttpRequest) -> HttpResponse:
    """The smart groups; each row loads its count after the page (a count can take a second
    at a million contacts, and the page should not wait for all of them)."""
    smart_groups = SmartGroup.objects.for_workspace(request.workspace)[:LIST_LIMIT]
    return render_htmx(request, "audiences/smartgroup_list.html", {"smart_groups": smart_groups})


@require_http_methods(["GET"])
@workspace_required
def smartgroup_count(request: HttpRequest, pk: int) -> HttpResponse:
    """One smart group's count now (htmx): the list's cell, or with ?in=panel the contacts'
    group panel's count."""
    smart_group = _smart_group(request, pk)
    smart_group.size = smart_group_members(smart_group=smart_group).order_by().count()
    context = {"smart_group": smart_group, "counted": True}
    template = "smartgroup_list.html#smart-count"
    if request.GET.get("in") == "panel":
        template = "_group_panel.html#panel-count"
    response = render(request, f"audiences/{template}", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@workspace_required
def smartgroup_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@require_http_methods(["GET", "POST"])
@workspace_required
def smartgroup_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _editor(request, _smart_group(request, pk))


def _editor(request: HttpRequest, smart_group: SmartGroup | None) -> HttpResponse:
    """One view for the editor: GET shows it; a POST adds or removes a row, refreshes the
    count and preview (htmx, as the user edits), or saves (a plain submit: PRG)."""
    workspace = request.workspace
    if request.method == "GET":
        definition = smart_group.definition if smart_group else {"conditions": []}
        name = smart_group.name if smart_group else ""
        rows = editor.rows_of(definition) or [editor.Row()]
        excluded = list(definition.get("exclude_group_ids", []))
        posted = editor.Posted(name, definition, rows, excluded)
        action = ""
    else:
        posted = editor.read_post(request.POST)
        action = request.POST.get("action", "")
        if action == "add" and len(posted.rows) < editor.MAX_ROWS:
            posted.rows.append(editor.Row())
        elif action == "remove":
            index = request.POST.get("remove", "")
            if index.isdigit() and int(index) < len(posted.rows):
                del posted.rows[int(index)]
        posted.definition["conditions"] = [editor.condition_of(row) for row in posted.rows]
    errors: dict[str, list[str]] = {}
    if action == "save":
        try:
            saved = _save(request, smart_group, posted)
        except ValidationError as exc:
            errors = editor.row_errors(posted.rows, exc.message_dict)
        else:
            messages.success(request, f"Smart group “{saved.name}” saved.")
            return redirect("audiences:smartgroup-edit", pk=saved.pk)
    hints = editor.value_hints(workspace)
    editor.with_choices(posted.rows, hints)
    context = {
        "smart_group": smart_group,
        "posted": posted,
        "errors": errors,
        "preview": _preview(workspace, posted),
        "fields": editor.field_choices(workspace),
        "hints": hints,
        "url": reverse("audiences:smartgroup-edit", args=[smart_group.pk])
        if smart_group
        else reverse("audiences:smartgroup-new"),
    }
    return render_htmx(request, "audiences/smartgroup_form.html", context, fragments=FRAGMENTS)


def _save(request: HttpRequest, smart_group: SmartGroup | None, posted) -> SmartGroup:
    if smart_group is None:
        return smart_group_create(
            workspace=request.workspace,
            name=posted.name,
            definition=posted.definition,
            actor=request.user,
        )
    return smart_group_update(
        smart_group=smart_group, name=posted.name, definition=posted.definition
    )


def _preview(workspace, posted) -> dict:
    """The live count and first contacts of the definition as edited, or why it cannot be.
    A row still waiting for its value is left out (and said so), not shown as an error."""
    complete = [row for row in posted.rows if row.value or not row.takes_value]
    data = posted.definition | {"conditions": [editor.condition_of(row) for row in complete]}
    try:
        definition = definition_clean(workspace=workspace, data=data)
    except ValidationError as exc:
        editor.row_errors(complete, exc.message_dict)
        return {"invalid": True}
    return {
        "count": smart_group_count(workspace=workspace, definition=definition),
        "contacts": smart_group_preview(workspace=workspace, definition=definition),
        "incomplete": len(posted.rows) - len(complete),
    }


@require_http_methods(["POST"])
@workspace_required
def smartgroup_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a smart group; one that a campaign still sends to asks first, naming it."""
    smart_group = _smart_group(request, pk)
    try:
        smart_group_delete(smart_group=smart_group, force=request.POST.get("confirm") == "yes")
    except SmartGroupInUse as exc:
        context = {"smart_group": smart_group, "users": exc.users}
        return render(request, "audiences/smartgroup_delete_confirm.html", context)
    messages.success(
        request, f"Smart group “{smart_group.name}” deleted; campaigns sent to it keep results."
    )
    return redirect("audiences:smartgroup-list")


@require_http_methods(["POST"])
@workspace_required
def smartgroup_freeze(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Save as group" (G4): a static group of whoever matches now, opened in the contacts."""
    smart_group = _smart_group(request, pk)
    try:
        group = smart_group_freeze(smart_group=smart_group, name=request.POST.get("name", ""))
    except ValidationError as exc:
        messages.error(request, "Cannot save as a group: " + " ".join(exc.messages))
        return redirect("audiences:smartgroup-edit", pk=pk)
    messages.success(request, f"Group “{group.name}” created with the contacts matching now.")
    return redirect(reverse("contacts:contact-list") + f"?group={group.pk}")
