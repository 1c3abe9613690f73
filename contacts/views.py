"""The contacts list, groups, batch operations, exports and "delete all" (C4-C9)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.timezone import now
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig
from django_tables2.paginators import LazyPaginator

from accounts.decorators import manager_required, workspace_required

from . import services
from .export import export_csv_lines, export_job_create
from .filters import ContactFilter
from .forms import DeleteAllForm, GroupForm
from .models import Contact, ContactGroup, ExportJob, JobStatus
from .selectors import group_counts
from .tables import ContactTable
from .tasks import contacts_delete_all_task

PER_PAGE_CHOICES = (25, 50, 100)
# Kept out of the filter querystring that travels with the bulk form.
NON_FILTER_PARAMS = {"page", "sort", "per_page"}


def render_htmx(request: HttpRequest, template: str, context: dict, partials=()) -> HttpResponse:
    """The full page, or for an htmx request aimed at one of `partials` just that fragment."""
    htmx = request.htmx
    if htmx and not htmx.boosted and not htmx.history_restore_request and htmx.target in partials:
        template = f"{template}#{htmx.target}"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _group_or_404(workspace, group_id) -> ContactGroup:
    try:
        pk = int(group_id)
    except (TypeError, ValueError):
        raise Http404("No such group.") from None
    return get_object_or_404(ContactGroup.objects.for_workspace(workspace), pk=pk)


def _filter_query(params: QueryDict) -> QueryDict:
    query = params.copy()
    for key in NON_FILTER_PARAMS:
        query.pop(key, None)
    return query


def _per_page(request: HttpRequest) -> int:
    try:
        value = int(request.GET.get("per_page", PER_PAGE_CHOICES[0]))
    except ValueError:
        return PER_PAGE_CHOICES[0]
    return value if value in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]


@workspace_required
@require_http_methods(["GET"])
def contact_list(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    group = _group_or_404(workspace, request.GET["group"]) if request.GET.get("group") else None
    contact_filter = ContactFilter(request.GET, workspace=workspace)
    table = ContactTable(contact_filter.qs.prefetch_related("tags"))
    per_page = _per_page(request)
    RequestConfig(
        request, paginate={"paginator_class": LazyPaginator, "per_page": per_page}
    ).configure(table)
    query = _filter_query(request.GET)
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
        "filtered": filtered,
        "has_any_contact": has_any,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "can_delete": request.membership.can_delete_contacts,
    }
    return render_htmx(request, "contacts/contact_list.html", context, partials={"contact-table"})


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
@require_http_methods(["GET"])
def contact_count(request: HttpRequest) -> HttpResponse:
    """How many contacts match the filters: asked for by "select all matching", not per page."""
    if request.GET.get("group"):
        _group_or_404(request.workspace, request.GET["group"])
    count = ContactFilter(request.GET, workspace=request.workspace).qs.count()
    return render(request, "contacts/contact_list.html#match-count", {"match_count": count})


def _selection(request: HttpRequest, query: QueryDict):
    """(ids, count) of the chosen contacts: the ticked ones, or every one matching the filters."""
    workspace = request.workspace
    if request.POST.get("select_all") == "1":
        qs = ContactFilter(query, workspace=workspace).qs.order_by()
        ids = list(qs.values_list("pk", flat=True))
        return ids, len(ids)
    raw = request.POST.getlist("ids")
    try:
        wanted = {int(pk) for pk in raw}
    except ValueError:
        raise ValidationError("The selection is not valid; reload the page.") from None
    ids = list(
        Contact.objects.for_workspace(workspace).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    return ids, len(ids)


def _require_delete(request: HttpRequest) -> None:
    if not request.membership.can_delete_contacts:
        raise PermissionDenied("Only owners and admins can delete contacts in this workspace.")


def _plural(n: int, word: str = "contact") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@workspace_required
@require_http_methods(["POST"])
def contacts_bulk(request: HttpRequest) -> HttpResponse:
    """One batch operation on the selected contacts (C7), then back to the same list."""
    workspace = request.workspace
    query = QueryDict(request.POST.get("query", ""), mutable=True)
    back = f"{reverse('contacts:contact-list')}?{query.urlencode()}"
    action = request.POST.get("action", "")
    source = _group_or_404(workspace, query["group"]) if query.get("group") else None
    if action == "delete":
        _require_delete(request)
    try:
        ids, count = _selection(request, query)
        if not ids:
            raise ValidationError("Select at least one contact first.")
        if action == "export":
            return _export(request, ids=ids, filters=None)
        message = _bulk_apply(request, action=action, ids=ids, source=source)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(request, message)
    return redirect(back)


def _bulk_apply(request: HttpRequest, *, action: str, ids: list[int], source) -> str:
    workspace = request.workspace
    post = request.POST
    if action in {"move", "copy"}:
        target = _group_or_404(workspace, post.get("target_group") or "x")
        if action == "copy":
            n = services.contacts_copy(target=target, contact_ids=ids)
            return f"{_plural(n)} copied to “{target.name}”."
        if source is None:
            raise ValidationError("Open a group first: moving takes contacts out of it.")
        n = services.contacts_move(source=source, target=target, contact_ids=ids)
        return f"{_plural(n)} moved from “{source.name}” to “{target.name}”."
    if action == "remove_from_group":
        if source is None:
            raise ValidationError("Open a group first to remove contacts from it.")
        n = services.group_remove_contacts(group=source, contact_ids=ids)
        return f"{_plural(n)} removed from “{source.name}” (the contacts themselves are kept)."
    if action == "delete":
        n = services.contacts_delete(workspace=workspace, contact_ids=ids)
        return f"{_plural(n)} deleted."
    if action in {"add_tag", "remove_tag"}:
        name = post.get("tag", "").strip()
        if not name:
            raise ValidationError("Type the tag to add or remove.")
        if action == "add_tag":
            n = services.contacts_add_tag(workspace=workspace, contact_ids=ids, name=name)
            return f"Tag “{name}” added to {_plural(n)}."
        n = services.contacts_remove_tag(workspace=workspace, contact_ids=ids, name=name)
        return f"Tag “{name}” removed from {_plural(n)}."
    if action == "opt_out":
        n = services.contacts_opt_out(
            workspace=workspace,
            contact_ids=ids,
            reason=Contact.OptOutReason.MANUAL,
            actor=request.user,
        )
        return f"{_plural(n)} opted out (already opted-out contacts are unchanged)."
    raise ValidationError("Choose an action.")


def _export(request: HttpRequest, *, ids: list[int] | None, filters: dict | None):
    """Small exports download now; large ones become a background job (C8)."""
    workspace = request.workspace
    if ids is not None:
        qs = Contact.objects.for_workspace(workspace).filter(pk__in=ids)
        count = len(ids)
    else:
        qs = ContactFilter(filters, workspace=workspace).qs
        count = qs.count()
    if count > settings.HERALD_EXPORT_SYNC_LIMIT:
        job = export_job_create(
            workspace=workspace, filters=filters or {}, contact_ids=ids, created_by=request.user
        )
        messages.info(request, f"Exporting {_plural(count)} in the background.")
        return redirect("contacts:export-detail", job.pk)
    response = StreamingHttpResponse(export_csv_lines(qs), content_type="text/csv; charset=utf-8")
    stamp = now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="contacts-{workspace.slug}-{stamp}.csv"'
    )
    return response


@workspace_required
@require_http_methods(["GET"])
def contacts_export(request: HttpRequest) -> HttpResponse:
    """Export every contact matching the list's filters (or a whole group)."""
    if request.GET.get("group"):
        _group_or_404(request.workspace, request.GET["group"])
    return _export(request, ids=None, filters=_filter_query(request.GET).dict())


@workspace_required
@require_http_methods(["GET"])
def export_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ExportJob.objects.for_workspace(request.workspace), pk=job_id)
    context = {"job": job, "running": job.status in {JobStatus.PENDING, JobStatus.RUNNING}}
    return render_htmx(request, "contacts/export_detail.html", context, partials={"export-status"})


@workspace_required
@require_http_methods(["GET"])
def export_download(request: HttpRequest, job_id: int) -> HttpResponse:
    """The finished file, only to members of its workspace (files are never public)."""
    job = get_object_or_404(ExportJob.objects.for_workspace(request.workspace), pk=job_id)
    if job.status != JobStatus.COMPLETED or not job.file:
        raise Http404("This export is not ready.")
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=f"contacts-{request.workspace.slug}-{job.pk}.csv",
        content_type="text/csv",
    )


@workspace_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(workspace=request.workspace, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Group “{group.name}” created.")
            return redirect(f"{reverse('contacts:contact-list')}?group={group.pk}")
    return render(request, "contacts/group_form.html", {"form": form, "group": None})


@workspace_required
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request.workspace, group_id)
    initial = {"name": group.name, "description": group.description}
    form = GroupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.group_update(group=group, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Group “{group.name}” saved.")
            return redirect(f"{reverse('contacts:contact-list')}?group={group.pk}")
    return render(request, "contacts/group_form.html", {"form": form, "group": group})


@workspace_required
@require_http_methods(["POST"])
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request.workspace, group_id)
    name = group.name
    services.group_delete(group=group)
    messages.success(request, f"Group “{name}” deleted. Its contacts are kept.")
    return redirect("contacts:contact-list")


@workspace_required
@require_http_methods(["GET"])
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request.workspace, group_id)
    return redirect(f"{reverse('contacts:contact-list')}?group={group.pk}")


@manager_required
@require_http_methods(["POST"])
def contacts_delete_all(request: HttpRequest) -> HttpResponse:
    """C9: typed confirmation; big workspaces are emptied by a background task."""
    form = DeleteAllForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["confirm"]))
        return redirect(f"{reverse('accounts:workspace-settings')}#danger-zone")
    count = Contact.objects.for_workspace(request.workspace).count()
    if count > settings.HERALD_EXPORT_SYNC_LIMIT:
        contacts_delete_all_task.delay_on_commit(request.workspace.pk)
        messages.success(request, f"Deleting {_plural(count)} in the background.")
    else:
        services.contacts_delete_all(workspace=request.workspace)
        messages.success(request, f"{_plural(count)} deleted.")
    return redirect("contacts:contact-list")


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)
