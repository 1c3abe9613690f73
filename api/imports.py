"""Contacts import over the API (A1 import, A3 two-step upload/confirm, import status)."""

import json
from datetime import datetime

from django.http import Http404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from contacts.importing import (
    ImportFileError,
    ImportTooLarge,
    import_job_confirm,
    import_job_create,
    import_job_get,
    import_job_inspect,
    import_job_read_state,
    import_job_refresh,
    import_job_set_mapping,
)
from contacts.models import ContactGroup, ImportJob

from .schemas import ErrorOut

router = Router(tags=["imports"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut}


class RowErrorOut(Schema):
    row: int
    error: str


class ImportJobOut(Schema):
    id: int
    status: str = Field(description="pending, running, completed or failed")
    format: str
    original_filename: str
    contact_group_id: int | None
    duplicate_strategy: str
    total_rows: int = Field(description="Non-blank data rows in the file.")
    rows_done: int
    created: int
    updated: int = Field(
        description="Existing contacts updated (update), each counted once however many rows "
        "matched it."
    )
    duplicates: int = Field(
        description="Rows that matched a contact counted already: an existing contact (skip), "
        "or one this import created or updated from a row above (merged into it: update)."
    )
    invalid: int
    errors: list[RowErrorOut] = Field(description="The first skipped rows with their reasons.")
    error_message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class UploadOut(Schema):
    upload_id: int = Field(
        description="Pass it to /contacts/mapped/file or /contacts/mapped/vcard."
    )
    status: str = Field(
        description="inspecting (a worker is reading the file: poll GET "
        "/contacts/upload/{upload_id}), ready (headers, sample rows and mapping are filled in) "
        "or failed (error_message says why; nothing is kept of the file)."
    )
    error_message: str = ""
    format: str
    headers: list[str]
    sample_rows: list[dict[str, str]]
    mapping: dict[str, str] = Field(description="The guessed mapping: header -> field.")
    sheets: list[str] | None = None
    has_header: bool = Field(
        True,
        description="Whether the first row is read as column names. False when it holds a "
        "phone number or email (a headerless file): it is then read as a contact, and the "
        'columns are "Column 1", "Column 2"…',
    )


class MappedIn(Schema):
    upload_id: int
    mapping: dict[str, str] | None = Field(
        None, description='Header -> field, "metadata:<key>" or "" to ignore; default: guessed.'
    )
    contact_group_id: int | None = None
    group_name: str = Field("", description="Create (or reuse) a group by name instead.")
    duplicate_strategy: str = "skip"
    default_region: str = ""
    has_header: bool | None = Field(
        None, description="Default: as the upload read it (see the upload's has_header)."
    )
    sheet: str = ""


def job_out(job: ImportJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "format": job.format,
        "original_filename": job.original_filename,
        "contact_group_id": job.group_id,
        "duplicate_strategy": job.duplicate_strategy,
        "total_rows": job.total_rows,
        "rows_done": job.rows_done,
        "created": job.created,
        "updated": job.updated,
        "duplicates": job.duplicates,
        "invalid": job.invalid,
        "errors": job.errors or [],
        "error_message": job.error_message,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _error(exc: ImportFileError, field: str = "file"):
    status = 413 if isinstance(exc, ImportTooLarge) else 400
    return Status(status, {"message": exc.message, "errors": {field: [exc.message]}})


def _group(request, group_id: int) -> ContactGroup:
    group = ContactGroup.objects.for_workspace(request.workspace).filter(pk=group_id).first()
    if group is None:
        raise Http404("No such group.")
    return group


@router.post(
    "/campaigns/contact-groups/{group_id}/import",
    response={202: ImportJobOut, **ERRORS},
    summary="Import a file into a group",
)
def group_import(
    request,
    group_id: int,
    file: File[UploadedFile],
    mapping: Form[str] = "",
    duplicate_strategy: Form[str] = "skip",
    default_region: Form[str] = "",
    has_header: Form[bool | None] = None,
    sheet: Form[str] = "",
):
    """Upload a CSV/TSV/xlsx/vCard file; the import runs in the background. Poll
    `GET /api/v1/imports/{id}` for progress and counts. The file is read by the import's
    worker: a file that cannot be read, or a mapping naming a column it lacks, ends as a
    failed import with `error_message` saying why."""
    group = _group(request, group_id)
    parsed = None
    if mapping.strip():
        try:
            parsed = json.loads(mapping)
        except json.JSONDecodeError:
            return Status(
                400,
                {"message": "mapping is not valid JSON.", "errors": {"mapping": ["Invalid JSON."]}},
            )
    try:
        # Not read here (#13): the import's worker reads the file first, in the limited child,
        # and a mapping naming a column the file lacks fails the job with that message.
        job = import_job_create(
            workspace=request.workspace, user=None, file=file, filename=file.name or "upload",
            queue=False,
        )  # fmt: skip
        import_job_set_mapping(job=job, mapping=parsed, has_header=has_header, sheet=sheet)
        import_job_confirm(
            job=job,
            group=group,
            duplicate_strategy=duplicate_strategy,
            default_region=default_region,
        )
    except ImportFileError as exc:
        return _error(exc, "mapping" if "mapp" in exc.message.lower() else "file")
    return Status(202, job_out(job))


def _upload(request, file: UploadedFile, *, vcard: bool):
    try:
        job = import_job_create(  # a worker reads it: poll GET /contacts/upload/{id}
            workspace=request.workspace, user=None, file=file, filename=file.name or "upload"
        )
        if vcard != (job.format == ImportJob.Format.VCARD):
            job.file.delete(save=False)
            job.delete()
            expected = (
                "a vCard (.vcf) file"
                if vcard
                else "a CSV or Excel file (use /contacts/upload/vcard for vCards)"
            )
            raise ImportFileError(f"This endpoint takes {expected}.")
    except ImportFileError as exc:
        return _error(exc)
    return Status(201, upload_out(job))


def upload_out(job: ImportJob) -> dict:
    state = import_job_read_state(job)
    out = {
        "upload_id": job.pk, "status": state, "format": job.format, "headers": [],
        "sample_rows": [], "mapping": {}, "sheets": None,
        "error_message": job.error_message if state == "failed" else "",
        "has_header": (job.options or {}).get("has_header", True),
    }  # fmt: skip
    if state == "ready":
        inspection = import_job_inspect(job=job)
        rows = [dict(zip(inspection.headers, row, strict=False)) for row in inspection.rows[:5]]
        out.update(
            headers=inspection.headers, sample_rows=rows, mapping=inspection.mapping,
            sheets=inspection.sheets,
        )  # fmt: skip
    return out


@router.post(
    "/contacts/upload", response={201: UploadOut, **ERRORS}, summary="Upload a CSV or Excel file"
)
def contacts_upload(request, file: File[UploadedFile]):
    """Step 1 of 2: stores the file; a worker reads it. Poll `GET /contacts/upload/{id}` until
    `status` is ready for the headers, sample rows and a guessed mapping. Confirming while
    it is still inspecting is allowed: the import then reads the file first."""
    return _upload(request, file, vcard=False)


@router.post(
    "/contacts/upload/vcard", response={201: UploadOut, **ERRORS}, summary="Upload a vCard file"
)
def contacts_upload_vcard(request, file: File[UploadedFile]):
    """Step 1 of 2 for vCards: fields are mapped automatically."""
    return _upload(request, file, vcard=True)


@router.get(
    "/contacts/upload/{upload_id}",
    response={200: UploadOut, **ERRORS},
    summary="An upload's headers, sample rows and guessed mapping, once read",
)
def contacts_upload_get(request, upload_id: int):
    """Poll this after an upload until `status` is ready (or failed, with `error_message`)."""
    job = import_job_get(workspace=request.workspace, job_id=upload_id)
    if job.confirmed_at is not None:
        raise Http404("No such upload.")
    return upload_out(job)


def _mapped(request, payload: MappedIn, *, vcard: bool):
    job = import_job_get(workspace=request.workspace, job_id=payload.upload_id)
    if vcard != (job.format == ImportJob.Format.VCARD):
        raise Http404("No such upload.")
    group = _group(request, payload.contact_group_id) if payload.contact_group_id else None
    try:
        import_job_set_mapping(
            job=job,
            mapping=None if vcard else payload.mapping,
            has_header=payload.has_header,
            sheet=payload.sheet,
        )
        import_job_confirm(
            job=job, group=group, group_name=payload.group_name,
            duplicate_strategy=payload.duplicate_strategy, default_region=payload.default_region,
        )  # fmt: skip
    except ImportFileError as exc:
        return _error(exc, "mapping")
    return Status(202, job_out(job))


@router.post(
    "/contacts/mapped/file", response={202: ImportJobOut, **ERRORS}, summary="Confirm an upload"
)
def contacts_mapped_file(request, payload: MappedIn):
    """Step 2 of 2: confirm a CSV/Excel upload with a mapping and a target group."""
    return _mapped(request, payload, vcard=False)


@router.post(
    "/contacts/mapped/vcard",
    response={202: ImportJobOut, **ERRORS},
    summary="Confirm a vCard upload",
)
def contacts_mapped_vcard(request, payload: MappedIn):
    """Step 2 of 2 for vCards (no mapping needed)."""
    return _mapped(request, payload, vcard=True)


@router.get(
    "/imports/{job_id}", response={200: ImportJobOut, **ERRORS}, summary="Import status and counts"
)
def import_status(request, job_id: int):
    job = import_job_refresh(job=import_job_get(workspace=request.workspace, job_id=job_id))
    return job_out(job)
