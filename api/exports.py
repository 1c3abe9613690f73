"""/api/v1/exports (A4): background CSV exports of contacts, their status and download."""

from datetime import datetime

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from contacts import selectors
from contacts.export import export_job_create
from contacts.models import Contact, ExportJob, JobStatus

from .contacts import ContactFilters, contact_filter_data
from .errors import require_ids
from .schemas import CSV_RESPONSE, ERRORS, ErrorOut, Id, IdList

router = Router(tags=["exports"])


class ExportIn(ContactFilters):
    ids: IdList | None = Field(
        None, description="Only these contacts (all must be in the workspace, else 404)."
    )


class ExportOut(Schema):
    id: int
    status: str = Field(description="pending, running, completed or failed.")
    row_count: int
    error_message: str
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = Field(description="Set once completed; needs the same key.")


def export_out(request, job: ExportJob) -> dict:
    ready = job.status == JobStatus.COMPLETED and bool(job.file)
    path = f"/api/v1/exports/{job.pk}/download"
    return {
        "id": job.pk,
        "status": job.status,
        "row_count": job.row_count,
        "error_message": job.error_message,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "download_url": request.build_absolute_uri(path) if ready else None,
    }


def get_job(request, export_id: int) -> ExportJob:
    return get_object_or_404(ExportJob.objects.for_workspace(request.workspace), pk=export_id)


@router.post("/contacts", response={202: ExportOut, **ERRORS}, summary="Start a CSV export")
def export_start(request, payload: ExportIn):
    """Exports the contacts matching the filters (as GET /contacts), or the listed `ids`
    (narrowed by any filters also given), in the background. Poll GET /exports/{id}."""
    workspace = request.workspace
    filters = ContactFilters(**payload.model_dump(exclude={"ids"}))
    data = contact_filter_data(workspace, filters)
    ids = None
    if payload.ids is not None:
        ids = require_ids(Contact.objects.for_workspace(workspace), payload.ids, field="ids")
    if data is None:  # an unknown tag: nothing matches
        ids = []
    elif ids is not None and data:
        matching = selectors.contact_list(workspace=workspace, filters=data, ids=ids)
        ids = list(matching.values_list("pk", flat=True))
    job = export_job_create(workspace=workspace, filters=data or {}, contact_ids=ids)
    return Status(202, export_out(request, job))


@router.get("/{export_id}", response={200: ExportOut, **ERRORS}, summary="Export status")
def export_status(request, export_id: Id):
    return export_out(request, get_job(request, export_id))


@router.get(
    "/{export_id}/download",
    response={200: None, 409: ErrorOut, **ERRORS},
    summary="Download an export's CSV",
    openapi_extra=CSV_RESPONSE,
)
def export_download(request, export_id: Id):
    """The finished CSV (409 while the export is still running or if it failed)."""
    job = get_job(request, export_id)
    if job.status != JobStatus.COMPLETED or not job.file:
        return Status(
            409, {"message": f"The export is {job.get_status_display().lower()}.", "errors": {}}
        )
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=f"contacts-export-{job.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )
