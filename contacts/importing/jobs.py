"""Import jobs (I2, I5, I7): create from an upload or paste, inspect, preview, map, confirm.

Running them is in runner.py. A job is a draft (`confirmed_at` empty) until confirmed; confirming
queues the Celery task once the transaction commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
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
from contacts.groups import group_get_or_create
from contacts.models import ContactGroup, ImportJob, JobStatus

from .errors import ImportFileError, ImportTooLarge
from .mapping import Plan, mapping_guess, mapping_plan, value_kind
from .readers import VCARD_MAPPING, detect_format
from .sandbox import Head, read_head
from .validation import RowCleaner, RowInvalid

logger = logging.getLogger(__name__)
SAMPLE_ROWS = 3
PREVIEW_ROWS = 20
INSPECT_ROWS = 200  # rows read to find sample values for each column
SAFE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".vcf", ".vcard"}


def _human_size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


# --- creating and reading ----------------------------------------------------------------
#
# No file is parsed in a web request (#13): creating a job stores the upload and queues
# `import_inspect_task`, which reads its headers and first rows in the limited child process
# (sandbox.py) and keeps them in the job's options: `read` is "inspecting", "ready" or "failed"
# (the reason in `error_message`), `headers`/`headers_for` the columns for the reading options
# they were read with, `head` the first rows and sample values. Pages and the API show what
# was kept and poll while it is being read.

READING = "inspecting"
READY = "ready"
FAILED = "failed"
STORED_CELL_CHARS = 256 * 1024  # of the first rows kept on the job, at most
SAMPLE_CHARS = 200  # of one sample value
STILL_READING = "The file is still being read; try again in a moment."


def import_job_create(
    *,
    workspace: Workspace,
    user,
    file: File,
    filename: str,
    size: int | None = None,
    queue: bool = True,
    options: dict | None = None,
) -> ImportJob:
    """Store an upload as a draft job and queue the reading of it (`queue=False`: the caller
    reads it, or the import run does). Only its size and first bytes are looked at here: over
    the size limit, empty or not a contacts file is an ImportFileError and nothing is stored."""
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
            **(options or {}),
            "read": READING,
        },
        mapping={},
    )
    job.file.save(f"{uuid4().hex}{suffix}", file, save=False)  # never the client's name
    try:
        job.save()
    except BaseException:
        job.file.delete(save=False)
        raise
    if queue:
        _queue_read(job)
    return job


def import_job_create_from_text(*, workspace: Workspace, user, text: str, **kwargs) -> ImportJob:
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
        **kwargs,
    )


def _queue_read(job: ImportJob) -> None:
    from contacts.tasks import import_inspect_task

    import_inspect_task.delay_on_commit(job.pk)


def _reading_key(options: dict) -> list:
    return [options.get("has_header", True), options.get("sheet", "")]


def import_job_read_state(job: ImportJob) -> str:
    """The reading state: "inspecting", "ready" or "failed" (the reason in `error_message`),
    for the job's current reading options. A job made before the worker finished is
    refreshed."""
    state = _state(job.options or {})
    if state == READING and job.pk:
        fresh = ImportJob.objects.filter(pk=job.pk).values("options", "error_message").first()
        if fresh is not None:
            # keep options changed on this object for this request (the header row, sheet)
            stored = fresh["options"] or {}
            mine = _reading_key(job.options or {})
            if mine in (_reading_key(stored), stored.get("read_for")):
                job.options, job.error_message = stored, fresh["error_message"]
            state = _state(job.options or {})
    return state


def _state(options: dict) -> str:
    state = options.get("read", READY if "headers" in options else READING)
    if state == READY and options.get("headers_for") != _reading_key(options):
        return READING
    return state


def import_job_read(*, job_id: int) -> ImportJob | None:
    """The worker's side of an upload: read its headers and first rows in the limited child
    process with the job's reading options, and keep them (or why it cannot be read) on the
    job. Idempotent: a job already read with these options is left alone. A file that cannot
    be read is deleted; the draft keeps the reason for the page and the API."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or _state(job.options or {}) != READING:
        return job
    options = job.options or {}
    key = _reading_key(options)
    guessed = False
    try:
        head = _read_head(job, rows=INSPECT_ROWS)
        if (
            key[0]
            and not options.get("has_header_chosen")
            and job.format != ImportJob.Format.VCARD
            and any(value_kind(cell) for cell in head.headers)
        ):
            # A headerless paste: its first row holds a phone or an email, so it is a
            # contact, not column names. Read as data, and the page says so (#14).
            job.options = {**options, "has_header": False}
            head = _read_head(job, rows=INSPECT_ROWS)
            guessed = True
        if not head.rows:
            raise ImportFileError(no_rows_message(head.headers))
    except ImportFileError as exc:
        _keep_reading(job, key, None, exc.message)
    else:
        _keep_reading(job, key, head, "", guessed=guessed)
    job.refresh_from_db()
    return job


def no_rows_message(headers: list[str]) -> str:
    names = ", ".join(headers[:5]) + (", …" if len(headers) > 5 else "")
    return (
        f"The file has a header row ({names}) but no contacts under it: there is nothing to "
        "import. Add the rows under the header, or choose the file that has them."
    )


def _read_head(job: ImportJob, rows: int = 0) -> Head:
    """The job's file read with its options, in the limited child process (sandbox.py)."""
    options = job.options or {}
    if not job.file or not job.file.storage.exists(job.file.name):
        raise ImportFileError("The file is no longer stored; upload it again.")
    return read_head(
        job.file.path, job.format, has_header=options.get("has_header", True),
        sheet=options.get("sheet", ""), encoding=options.get("encoding", ""),
        delimiter=options.get("delimiter", ""), rows=rows,
    )  # fmt: skip


def _keep_reading(
    job: ImportJob, key: list, head: Head | None, error: str, *, guessed: bool = False
) -> None:
    """Store what reading found, unless the reading options changed meanwhile (that reading
    is queued and stores its own). `guessed`: read with the first row as data."""
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None or _reading_key(locked.options or {}) != key:
            return
        options = dict(locked.options or {})
        if head is None:
            options["read"] = FAILED
            locked.error_message = error
            if locked.file:
                locked.file.delete(save=False)  # nothing is kept of a file that cannot be read
        else:
            if guessed:
                options["has_header"] = False
            options.update(
                _kept(head), read=READY, headers_for=_reading_key(options), header_guessed=guessed,
                read_for=key,  # the options it was asked to read with (before the guess)
            )  # fmt: skip
            locked.error_message = ""
        locked.options = options
        locked.save(update_fields=["options", "error_message", "file"])


def _kept(head: Head) -> dict:
    """What the pages and the API need of a read: the encoding and delimiter (sniffing the
    encoding reads the whole file), the headers, sheets, sample values per column and the
    first rows, bounded in size."""
    samples: list[list[str]] = [[] for _ in head.headers]
    for _, cells, error in head.rows:
        if error:
            continue
        for index, value in enumerate(cells[: len(samples)]):
            if value and len(samples[index]) < SAMPLE_ROWS:
                samples[index].append(value[:SAMPLE_CHARS])
    rows, budget = [], STORED_CELL_CHARS
    for number, cells, error in head.rows[:PREVIEW_ROWS]:
        budget -= sum(map(len, cells))
        if budget < 0:
            break
        rows.append([number, cells, error])
    return {
        "encoding": head.encoding, "delimiter": head.delimiter, "headers": head.headers,
        "head": {"rows": rows, "samples": samples, "sheets": head.sheets, "sheet": head.sheet},
    }  # fmt: skip


def import_job_set_options(*, job: ImportJob, has_header: bool, sheet: str) -> ImportJob:
    """Change how a draft's file is read (header row, sheet) and queue reading it again."""
    options = dict(job.options or {})
    if _reading_key(options) == [bool(has_header), sheet] and _state(options) != FAILED:
        return job
    options.update(has_header=bool(has_header), sheet=sheet, read=READING)
    options["has_header_chosen"] = True
    options.pop("head", None)
    job.options = options
    job.save(update_fields=["options"])
    _queue_read(job)
    return job


def job_headers(job: ImportJob) -> list[str]:
    """The file's column headers for the job's current reading options, as read by the worker.
    Not read yet: ImportFileError (failed: the reason)."""
    state = import_job_read_state(job)
    if state == FAILED:
        raise ImportFileError(job.error_message or "This file could not be read.")
    if state != READY:
        raise ImportFileError(STILL_READING)
    return list(job.options["headers"])


@dataclass
class Inspection:
    headers: list[str]
    samples: list[list[str]]  # per column, up to three non-empty sample values
    mapping: dict[str, str]  # the job's saved mapping, else the guess
    sheets: list[str] | None
    sheet: str
    rows: list[list[str]]  # the first few data rows as read


def import_job_inspect(*, job: ImportJob) -> Inspection:
    """Headers, sample values per column and the mapping (saved, else guessed), as read by
    the worker; ImportFileError while it is being read or when it could not be."""
    headers = job_headers(job)
    kept = (job.options or {}).get("head") or {}
    samples = kept.get("samples") or [[] for _ in headers]
    first_rows = [cells for _, cells, error in kept.get("rows", []) if not error]
    if job.format == ImportJob.Format.VCARD:
        mapping = dict(VCARD_MAPPING)
    else:
        saved = {k: v for k, v in (job.mapping or {}).items() if k in headers}
        mapping = saved if len(saved) == len(headers) else mapping_guess(headers, samples)
    return Inspection(
        headers=headers,
        samples=samples,
        mapping=mapping,
        sheets=kept.get("sheets"),
        sheet=kept.get("sheet", ""),
        rows=first_rows[: SAMPLE_ROWS + 2],
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
    plan = mapping_plan(job.mapping or None, job_headers(job))
    cleaner = RowCleaner(plan, options.get("default_region", "US"))
    for number, cells, error in (options.get("head") or {}).get("rows", [])[:limit]:
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
    """Save the mapping and reading options of a draft job, checked against the file's headers
    when they have been read for those options; otherwise the import run reads the file first
    and checks it then (a wrong mapping fails the job with the same message)."""
    options = dict(job.options or {})
    if has_header is not None:
        options["has_header"] = bool(has_header)
        options["has_header_chosen"] = True
    if sheet is not None:
        options["sheet"] = sheet
    if _reading_key(options) != _reading_key(job.options or {}):
        options["read"] = READING
        options.pop("head", None)
    job.options = options
    if job.format == ImportJob.Format.VCARD:
        mapping = dict(VCARD_MAPPING)
    state = import_job_read_state(job)
    if state == FAILED:
        raise ImportFileError(job.error_message or "This file could not be read.")
    if state == READY:
        if mapping is None:  # the guess, from the values too (a headerless file's columns)
            mapping = import_job_inspect(job=job).mapping
        job.mapping = mapping_plan(mapping, job_headers(job)).mapping
    else:
        if mapping is not None and not (
            isinstance(mapping, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
        ):
            raise ImportFileError('The mapping must be a JSON object like {"Column": "field"}.')
        job.mapping = mapping or {}
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
    if import_job_read_state(job) == FAILED:
        raise ImportFileError(job.error_message or "This file could not be read.")
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
