"""The contacts list, its "all N matching" count, batch operations on the selection, and
"delete all" (C4, C7, C9)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig

from accounts.decorators import manager_required, workspace_required
from core.htmx import render_htmx

from .. import selectors, services
from ..batch import contacts_batch, contacts_batch_check, plural
from ..forms import DeleteAllForm
from ..models import Contact, ContactGroup
from ..selectors import group_counts
from ..tables import ContactTable, DeepPageLazyPaginator
from ..tasks import contacts_batch_task, contacts_delete_all_task
from .common import filter_query, group_or_404
from .exports import export_response

PER_PAGE_CHOICES = (25, 50, 100, 250)
# How the list is shown (not which contacts): kept across filter changes and batch actions.
VIEW_PARAMS = ("sort", "per_page")
# The selection a batch action leaves behind, for the list page it redirects to.
SELECTION_KEY = "contacts:selection"
SELECTION_KEPT = 1000
ROW_REMOVING = {"delete", "move", "remove_from_group"}


def _per_page(request: HttpRequest) -> int:
    try:
        value = int(request.GET.get("per_page", PER_PAGE_CHOICES[0]))
    except ValueError:
        return PER_PAGE_CHOICES[0]
    return value if value in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]


def _view_query(params: QueryDict) -> QueryDict:
    view = QueryDict(mutable=True)
    for key in VIEW_PARAMS:
        if params.get(key):
            view[key] = params[key]
    return view


def _keep_selection(request: HttpRequest, *, ids: list[int], select_all: bool, **form) -> None:
    """Remember what was selected (and, after an error, what was chosen) for the next page."""
    request.session[SELECTION_KEY] = {
        "workspace": request.workspace.pk,
        "ids": [] if select_all else ids[:SELECTION_KEPT],
        "all": select_all,
        "form": {k: str(v) for k, v in form.items() if v},
    }


def _kept_selection(request: HttpRequest) -> dict:
    """The selection a batch action left for this page (once), or nothing selected."""
    kept = None if request.htmx else request.session.pop(SELECTION_KEY, None)
    if not kept or kept.get("workspace") != request.workspace.pk:
        return {"ids": set(), "all": False, "form": {}}
    return {"ids": set(kept["ids"]), "all": kept["all"], "form": kept["form"]}


@workspace_required
@require_http_methods(["GET"])
def contact_list(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    group = group_or_404(workspace, request.GET["group"]) if request.GET.get("group") else None
    contact_filter = selectors.contact_filter(workspace=workspace, filters=request.GET)
    # Another group changes the page around the table too (title, group actions, bulk bar):
    # that select swaps the whole of <main>, the other filters only the table.
    contact_filter.form.fields["group"].widget.attrs.update(
        {
            "hx-get": reverse("contacts:contact-list"),
            "hx-include": "closest form",
            "hx-target": "#main",
            "hx-select": "#main",
            "hx-swap": "outerHTML",
            "hx-push-url": "true",
        }
    )
    contacts = selectors.contact_list(workspace=workspace, filters=contact_filter)
    table = ContactTable(contacts.prefetch_related("tags"))
    per_page = _per_page(request)
    RequestConfig(
        request, paginate={"paginator_class": DeepPageLazyPaginator, "per_page": per_page}
    ).configure(table)
    table.selection = _kept_selection(request)  # render_table passes the table only
    query = filter_query(request.GET)
    filtered = any(v for k, v in query.items() if k != "group")
    if group is not None and not filtered:
        table.empty_text = (
            "This group has no contacts yet. Add a contact here, or open All contacts, "
            "select some and choose “Copy to group”."
        )
    has_any = group is not None or Contact.objects.for_workspace(workspace).exists()
    context = {
        "filter": contact_filter,
        "table": table,
        "group": group,
        "current_group_id": group.pk if group else None,
        "groups": ContactGroup.objects.for_workspace(workspace),
        "query": query.urlencode(),
        "view_params": _view_query(request.GET),
        "view_query": _view_query(request.GET).urlencode(),
        "page_number": table.page.number if hasattr(table, "page") else 1,
        "selection": table.selection,
        "filtered": filtered,
        "has_any_contact": has_any,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "can_delete": request.membership.can_delete_contacts,
    }
    return render_htmx(request, "contacts/contact_list.html", context, fragments={"contact-table"})


@workspace_required
@require_http_methods(["GET"])
def contact_count(request: HttpRequest) -> HttpResponse:
    """How many contacts match the filters: asked for by "select all matching", not per page."""
    group = (
        group_or_404(request.workspace, request.GET["group"]) if request.GET.get("group") else None
    )
    filters = {k: v for k, v in filter_query(request.GET).items() if v and k != "group"}
    if not filters:  # the whole workspace or one group: counted from the (cached) group counts
        sizes, total = group_counts(workspace=request.workspace)
        count = sizes.get(group.pk, 0) if group else total
    else:
        count = selectors.contact_count(workspace=request.workspace, filters=request.GET)
    return render(request, "contacts/contact_list.html#match-count", {"match_count": count})


def _selected_ids(request: HttpRequest) -> list[int]:
    """The ticked contacts of this workspace (foreign or unknown ids are dropped)."""
    try:
        wanted = {int(pk) for pk in request.POST.getlist("ids")}
    except ValueError:
        raise ValidationError("The selection is not valid; reload the page.") from None
    return list(
        Contact.objects.for_workspace(request.workspace)
        .filter(pk__in=wanted)
        .values_list("pk", flat=True)
    )


def _require_delete(request: HttpRequest) -> None:
    if not request.membership.can_delete_contacts:
        raise PermissionDenied("Only owners and admins can delete contacts in this workspace.")


@workspace_required
@require_http_methods(["POST"])
def contacts_bulk(request: HttpRequest) -> HttpResponse:
    """One batch operation on the selected contacts (C7), then back to the same list.

    "All N matching" with N above HERALD_EXPORT_SYNC_LIMIT runs in the background.
    """
    workspace = request.workspace
    query = QueryDict(request.POST.get("query", ""), mutable=True)
    action = request.POST.get("action", "")
    back = _back(request, query, action)
    source = group_or_404(workspace, query["group"]) if query.get("group") else None
    target_id = request.POST.get("target_group") if action in {"copy", "move"} else None
    target = group_or_404(workspace, target_id) if target_id else None
    tag = request.POST.get("tag", "")
    select_all = request.POST.get("select_all") == "1"
    ids: list[int] = []
    if action == "delete":
        _require_delete(request)
    try:
        if action != "export":
            contacts_batch_check(action=action, source=source, target=target, tag=tag)
        if select_all:
            count = selectors.contact_count(workspace=workspace, filters=query)
            if count > settings.HERALD_EXPORT_SYNC_LIMIT:
                return _in_background(request, action, query, source, target, tag, count, back)
            matching = selectors.contact_list(workspace=workspace, filters=query)
            ids = list(matching.order_by().values_list("pk", flat=True))
        else:
            ids = _selected_ids(request)
        if not ids:
            raise ValidationError("Select at least one contact first.")
        if action == "export":
            return export_response(request, ids=ids, filters=None)
        message = contacts_batch(
            workspace=workspace,
            action=action,
            contact_ids=ids,
            source=source,
            target=target,
            tag=tag,
            actor=request.user,
        )
    except ValidationError as exc:
        # Nothing was done: the same contacts stay selected and the action stays chosen.
        _keep_selection(
            request,
            ids=[] if select_all else (ids or _selected_ids_or_none(request)),
            select_all=select_all,
            action=action,
            target_group=target_id or "",
            tag=tag,
        )
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    if action != "delete":  # the same contacts stay selected for the next action
        _keep_selection(
            request, ids=ids, select_all=select_all and _still_all(workspace, query, ids)
        )
    messages.success(request, message)
    return redirect(back)


def _still_all(workspace, query: QueryDict, ids: list[int]) -> bool:
    """Whether "all matching" still means the contacts just acted on (an opt-out under a
    status filter, a move out of the group... change who matches: then they stay selected by
    id, never as a filter that now picks others)."""
    matching = selectors.contact_list(workspace=workspace, filters=query)
    return set(matching.order_by().values_list("pk", flat=True)) == set(ids)


def _back(request: HttpRequest, query: QueryDict, action: str) -> str:
    """The list as it was (filters, sort, rows per page, and the page unless rows leave it)."""
    back = query.copy()
    view = QueryDict(request.POST.get("view", ""))
    for key in VIEW_PARAMS:
        if view.get(key):
            back[key] = view[key]
    if view.get("page") and action not in ROW_REMOVING:
        back["page"] = view["page"]
    return f"{reverse('contacts:contact-list')}?{back.urlencode()}"


def _selected_ids_or_none(request: HttpRequest) -> list[int]:
    try:
        return _selected_ids(request)
    except ValidationError:
        return []


def _in_background(request, action, query, source, target, tag, count, back) -> HttpResponse:
    filters = query.dict()
    if action == "export":
        return export_response(request, ids=None, filters=filters)
    contacts_batch_task.delay_on_commit(
        request.workspace.pk,
        action,
        filters,
        source.pk if source else None,
        target.pk if target else None,
        tag,
        request.user.pk,
    )
    doing = "Deleting" if action == "delete" else "Working on"
    messages.success(
        request, f"{doing} {plural(count)} in the background: reload in a moment to see it."
    )
    return redirect(back)


@manager_required
@require_http_methods(["POST"])
def contacts_delete_all(request: HttpRequest) -> HttpResponse:
    """C9: typed confirmation; big workspaces are emptied by a background task."""
    form = DeleteAllForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["confirm"]))
        return redirect(f"{reverse('accounts:workspace-settings')}#danger-zone")
    count = selectors.contact_count(workspace=request.workspace)
    if count > settings.HERALD_EXPORT_SYNC_LIMIT:
        contacts_delete_all_task.delay_on_commit(request.workspace.pk)
        messages.success(request, f"Deleting {plural(count)} in the background.")
    else:
        services.contacts_delete_all(workspace=request.workspace)
        messages.success(request, f"{plural(count)} deleted.")
    return redirect("contacts:contact-list")
