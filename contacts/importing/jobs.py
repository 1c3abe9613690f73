"""Import jobs (I2, I5, I7): create from an upload or paste, inspect, preview, map, confirm.

Running them is in runner.py. A job is a draft (`confirmed_at` empty) until confirmed; confirming
queues the Celery task once the transaction commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import uuid4

import phonenumbers
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.http import Http404
from django.utils.timezone import now

from accounts.models import Workspace
from contacts import dedup
from contacts.models import ContactGroup, ImportJob, JobStatus
from contacts.services import group_get_or_create

from .errors import ImportFileError, ImportTooLarge
from .mapping import Plan, mapping_guess, mapping_plan
from .readers import VCARD_FIELDS, detect_format
from .sandbox import Head, read_head
from .validation import RowCleaner, RowInvalid

logger = logging.getLogger(__name__)
SAMPLE_ROWS = 3
PREVIEW_ROWS = 20
INSPECT_ROWS = 200  # rows read to find sample values for each column
SAFE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".vcf", ".vcard"}


def _human_size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


# --- creating and inspecting ----------------------------------------------------------------


def import_job_create(
    *, workspace: Workspace, user, file: File, filename: str, size: int | None = None
) -> ImportJob:
    """Store an upload as a draft job. Over the size limit: ImportTooLarge, nothing stored."""
    size = file.size if size is None else size
    limit = settings.HERALD_IMPORT_MAX_BYTES
    if size is not None and size > limit:
        raise ImportTooLarge(
            f"The file is {_human_size(size)}; the largest import is {_human_size(limit)}."
        )
    if not size:
        raise ImportFileError("The file is empty.")
    file.seek(0)
    head = file.read(8192)
    file.seek(0)
    fmt = detect_format(filename, head)
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix in SAFE_SUFFIXES else ".dat"
    job = ImportJob(
        workspace=workspace,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        original_filename=Path(filename).name[:255],
        format=fmt,
        options={
            "has_header": True,
            "default_region": workspace.default_region or "US",
            "sheet": "",
        },
        mapping={},
    )
    job.file.save(f"{uuid4().hex}{suffix}", file, save=False)  # never the client's name
    try:
        # Read in a limited child: a file whose header or first rows cannot be read is
        # refused here, and the wizard's next page reuses what was read.
        _remember(job, _read_head(job, rows=INSPECT_ROWS))
    except ImportFileError:
        job.file.delete(save=False)  # nothing is kept of a file that cannot be read
        raise
    job.save()
    return job


def import_job_create_from_text(*, workspace: Workspace, user, text: str) -> ImportJob:
    """Pasted CSV text becomes a UTF-8 file and goes the same way as an upload."""
    data = text.encode("utf-8")
    if not text.strip():
        raise ImportFileError("Paste some rows first: the text box is empty.")
    return import_job_create(
        workspace=workspace,
        user=user,
        file=ContentFile(data),
        filename="pasted.csv",
        size=len(data),
    )


def _read_head(job: ImportJob, rows: int = 0) -> Head:
    """The job's file read with its options, in the limited child process (sandbox.py).

    What was read is kept on this job object for the rest of the request (the upload page
    reads the first rows and the inspection right after it needs the same)."""
    options = job.options or {}
    key = (job.file.name, options.get("has_header", True), options.get("sheet", ""))
    cached = getattr(job, "_head", None)
    if cached is not None and cached[0] == key and cached[1] >= rows:
        return replace(cached[2], rows=cached[2].rows[:rows])
    head = read_head(
        job.file.path, job.format, has_header=key[1], sheet=key[2],
        encoding=options.get("encoding", ""), delimiter=options.get("delimiter", ""), rows=rows,
    )  # fmt: skip
    job._head = (key, rows, head)
    return head


def _remember(job: ImportJob, head: Head) -> None:
    """Keep what reading found on the job (saved with it by the caller): the encoding and
    delimiter (sniffing the encoding reads the whole file), and the headers for these
    reading options, so later steps and the run do not find them again."""
    options = dict(job.options or {})
    options.update(
        encoding=head.encoding, delimiter=head.delimiter, headers=head.headers,
        headers_for=[options.get("has_header", True), options.get("sheet", "")],
    )  # fmt: skip
    job.options = options


def job_headers(job: ImportJob) -> list[str]:
    """The file's column headers for the job's current reading options (header row, sheet)."""
    options = job.options or {}
    if "headers" in options and options.get("headers_for") == [
        options.get("has_header", True),
        options.get("sheet", ""),
    ]:
        return list(options["headers"])
    head = _read_head(job)
    _remember(job, head)
    return head.headers


@dataclass
class Inspection:
    headers: list[str]
    samples: list[list[str]]  # per column, up to three non-empty sample values
    mapping: dict[str, str]  # the job's saved mapping, else the guess
    sheets: list[str] | None
    sheet: str
    rows: list[list[str]]  # the first few data rows as read


def import_job_inspect(*, job: ImportJob) -> Inspection:
    """Headers, sample values per column and the mapping (saved, else guessed)."""
    head = _read_head(job, rows=INSPECT_ROWS)
    samples: list[list[str]] = [[] for _ in head.headers]
    first_rows: list[list[str]] = []
    for _, cells, error in head.rows:
        if error:
            continue
        if len(first_rows) < SAMPLE_ROWS + 2:
            first_rows.append(cells)
        for index, value in enumerate(cells):
            if value and len(samples[index]) < SAMPLE_ROWS:
                samples[index].append(value)
        if len(first_rows) > SAMPLE_ROWS + 1 and all(len(s) >= SAMPLE_ROWS for s in samples):
            break
    headers, sheets, sheet = head.headers, head.sheets, head.sheet
    if job.format == ImportJob.Format.VCARD:
        mapping = {name: name for name in VCARD_FIELDS}
    else:
        saved = {k: v for k, v in (job.mapping or {}).items() if k in headers}
        mapping = saved if len(saved) == len(headers) else mapping_guess(headers)
    return Inspection(
        headers=headers,
        samples=samples,
        mapping=mapping,
        sheets=sheets,
        sheet=sheet,
        rows=first_rows,
    )


@dataclass
class PreviewRow:
    number: int
    values: dict | None
    error: str | None
    match: str = ""  # "existing": matches a stored contact; "repeat": matches a row above
    repeats: int | None = None  # the row above it matches


def import_job_preview(
    *, job: ImportJob, limit: int = PREVIEW_ROWS
) -> tuple[Plan, list[PreviewRow]]:
    """The first rows as they will be stored, each with its validation result."""
    options = job.options or {}
    preview: list[PreviewRow] = []
    head = _read_head(job, rows=limit)
    plan = mapping_plan(job.mapping or None, head.headers)
    cleaner = RowCleaner(plan, options.get("default_region", "US"))
    for number, cells, error in head.rows:
        if error:
            preview.append(PreviewRow(number, None, error))
            continue
        try:
            preview.append(PreviewRow(number, cleaner.clean(cells), None))
        except RowInvalid as exc:
            preview.append(PreviewRow(number, None, str(exc)))
    _mark_matches(job.workspace, preview)
    return plan, preview


def _mark_matches(workspace: Workspace, preview: list[PreviewRow]) -> None:
    """Which shown rows match a stored contact or a row above, by the import's own rule
    (contacts/dedup.py: phone first, then email; later rows match earlier new ones)."""
    valid = [row for row in preview if row.values]
    found = dedup.probe(
        workspace,
        phones=[r.values.get("phone") for r in valid],
        emails=[r.values.get("email") for r in valid],
    )
    matcher = dedup.Matcher(found)
    for row in valid:
        phone, email = row.values.get("phone"), row.values.get("email")
        match = matcher.find(phone, email)
        if isinstance(match, dedup.Ref):
            row.match = "existing"
        elif match is not None:
            row.match, row.repeats = "repeat", match
        else:
            matcher.remember(row.number, phone, email)


def import_job_set_mapping(
    *,
    job: ImportJob,
    mapping: dict | None,
    has_header: bool | None = None,
    sheet: str | None = None,
) -> ImportJob:
    """Save (and check) the mapping and reading options of a draft job."""
    options = dict(job.options or {})
    if has_header is not None:
        options["has_header"] = bool(has_header)
    if sheet is not None:
        options["sheet"] = sheet
    job.options = options
    headers = job_headers(job)
    if job.format == ImportJob.Format.VCARD:
        mapping = {name: name for name in VCARD_FIELDS}
    job.mapping = mapping_plan(mapping, headers).mapping
    job.save(update_fields=["options", "mapping"])
    return job


@transaction.atomic
def import_job_confirm(
    *,
    job: ImportJob,
    group: ContactGroup | None = None,
    group_name: str = "",
    duplicate_strategy: str = ImportJob.DuplicateStrategy.SKIP,
    default_region: str = "",
    enqueue: bool = True,
) -> ImportJob:
    """Fix the target group and options and queue the import (after this transaction commits)."""
    if job.confirmed_at is not None:
        raise ImportFileError("This import was already started.")
    if duplicate_strategy not in ImportJob.DuplicateStrategy.values:
        raise ImportFileError(
            f"Unknown duplicate strategy “{duplicate_strategy}”; use skip, update or create."
        )
    if default_region and default_region.strip().upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ImportFileError(
            f"“{default_region}” is not a country code phone numbers know (like US, GB, DE)."
        )
    if group is None:
        name = " ".join((group_name or "").split())
        if not name:
            raise ImportFileError("Choose a group to import into, or name a new one.")
        if len(name) > 120:
            raise ImportFileError("A group name can be at most 120 characters.")
        # "customers" while "Customers" exists is that group, as group_create would say.
        group = group_get_or_create(workspace=job.workspace, name=name)
    elif group.workspace_id != job.workspace_id:
        raise Http404("No such group.")
    if not job.mapping:
        import_job_set_mapping(job=job, mapping=None)
    options = dict(job.options or {})
    if default_region:
        options["default_region"] = default_region.strip().upper()
    job.options = options
    job.group = group
    job.duplicate_strategy = duplicate_strategy
    job.confirmed_at = now()
    job.status = JobStatus.PENDING
    job.save()
    if enqueue:
        from contacts.tasks import import_contacts_task

        import_contacts_task.delay_on_commit(job.pk)
    return job


def import_job_get(*, workspace: Workspace, job_id: int) -> ImportJob:
    job = (
        ImportJob.objects.for_workspace(workspace).filter(pk=job_id).select_related("group").first()
    )
    if job is None:
        raise Http404("No such import.")
    return job


def import_job_error_rows(*, job: ImportJob) -> Iterator[list[str]]:
    """The skipped-rows CSV: the file's columns plus `error`, one line per skipped row."""
    headers = None
    with contextlib.suppress(ImportFileError):
        headers = job_headers(job)
    first = job.row_errors.order_by("row_number").first()
    width = len(headers) if headers else len(first.values) if first else 0
    yield [*(headers or [f"Column {i}" for i in range(1, width + 1)]), "error"]
    for values, error in (
        job.row_errors.order_by("row_number").values_list("values", "error").iterator(2000)
    ):
        cells = list(values or [])[:width]
        yield [*cells, *[""] * (width - len(cells)), error]


def import_counts(job: ImportJob) -> dict[str, int]:
    """The counts under the same names everywhere (UI, API, command line)."""
    return {
        "total_rows": job.total_rows,
        "created": job.created,
        "updated": job.updated,
        "duplicates": job.duplicates,
        "invalid": job.invalid,
    }
