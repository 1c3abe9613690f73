"""CSV exports of contacts: now for a few, as a background job for many (C8)."""

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.timezone import now
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from core.csv import csv_response
from core.htmx import render_htmx

from .. import selectors
from ..batch import plural
from ..export import export_job_create, export_rows
from ..models import ExportJob, JobStatus
from .common import filter_query, group_or_404


def export_response(request: HttpRequest, *, ids: list[int] | None, filters: dict | None):
    """Small exports download now; large ones become a background job (C8), on a POST only:
    a GET (a prefetch, a crawler, a link in a mail) never starts one."""
    workspace = request.workspace
    qs = selectors.contact_list(workspace=workspace, filters=filters, ids=ids)
    if ids is not None:
        count = len(ids)
    else:
        count = selectors.contact_count(workspace=workspace, filters=filters)
    if count > settings.HERALD_EXPORT_SYNC_LIMIT and request.method != "POST":
        messages.info(
            request,
            f"{plural(count)} are too many to download at once: press Export CSV to export "
            "them in the background.",
        )
        return redirect(f"{reverse('contacts:contact-list')}?{request.GET.urlencode()}")
    if count > settings.HERALD_EXPORT_SYNC_LIMIT:
        job = export_job_create(
            workspace=workspace, filters=filters or {}, contact_ids=ids, created_by=request.user
        )
        messages.info(request, f"Exporting {plural(count)} in the background.")
        return redirect("contacts:export-detail", job.pk)
    stamp = now().strftime("%Y%m%d-%H%M")
    return csv_response(export_rows(qs), filename=f"contacts-{workspace.slug}-{stamp}.csv")


@workspace_required
@require_http_methods(["GET", "POST"])
def contacts_export(request: HttpRequest) -> HttpResponse:
    """Export every contact matching the list's filters (or a whole group)."""
    if request.GET.get("group"):
        group_or_404(request.workspace, request.GET["group"])
    return export_response(request, ids=None, filters=filter_query(request.GET).dict())


@workspace_required
@require_http_methods(["GET"])
def export_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ExportJob.objects.for_workspace(request.workspace), pk=job_id)
    context = {"job": job, "running": job.status in {JobStatus.PENDING, JobStatus.RUNNING}}
    return render_htmx(request, "contacts/export_detail.html", context, fragments={"export-status"})


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
