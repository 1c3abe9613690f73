"""Import jobs (I5, I7): create from an upload, inspect, preview, confirm, run, resume.

The job row is the truth. `import_job_run` is what the Celery task, the command line and the
tests all call. It holds a lock for the job (a PostgreSQL advisory lock, released by the server
if the worker dies), counts the rows (limits are checked before anything is written), then
writes batches; each batch commits together with the job's progress (`rows_done` and counts),
so after a crash the job resumes at the first unwritten batch and nothing is written twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from pathlib import Path
from uuid import uuid4

import phonenumbers
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import connection, transaction
from django.db.models import Q
from django.http import Http404
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import ContactGroup, ImportJob, ImportRowError, JobStatus

from .errors import ImportFileError, ImportTooLarge
from .mapping import Plan, mapping_guess, mapping_plan
from .readers import VCARD_FIELDS, detect_format, open_table
from .validation import RowCleaner, RowInvalid
from .writer import ContactWriter

logger = logging.getLogger(__name__)
LOCK_CLASS = 0x484C44  # "HLD": the advisory-lock namespace for import jobs
STALE_AFTER = timedelta(minutes=10)  # without advisory locks (SQLite), a silent job is dead
KEPT_ERRORS = 50  # errors listed on the job itself; all of them are in ImportRowError
SAMPLE_ROWS = 3
PREVIEW_ROWS = 20
SAFE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".vcf", ".vcard"}


def _batch_size() -> int:
    return int(getattr(settings, "HERALD_IMPORT_BATCH_SIZE", 2000))


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
    options = job.options or {}
    with open_table(
        job.file.path,
        job.format,
        has_header=options.get("has_header", True),
        sheet=options.get("sheet", ""),
    ) as table:
        samples: list[list[str]] = [[] for _ in table.headers]
        first_rows: list[list[str]] = []
        for _, cells, error in islice(table.rows, 200):
            if error:
                continue
            if len(first_rows) < SAMPLE_ROWS + 2:
                first_rows.append(cells)
            for index, value in enumerate(cells):
                if value and len(samples[index]) < SAMPLE_ROWS:
                    samples[index].append(value)
            if len(first_rows) > SAMPLE_ROWS + 1 and all(len(s) >= SAMPLE_ROWS for s in samples):
                break
        headers, sheets, sheet = table.headers, table.sheets, table.sheet
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
    match: str = ""  # "existing" when it matches a contact already in the workspace


def import_job_preview(
    *, job: ImportJob, limit: int = PREVIEW_ROWS
) -> tuple[Plan, list[PreviewRow]]:
    """The first rows as they will be stored, each with its validation result."""
    options = job.options or {}
    preview: list[PreviewRow] = []
    with open_table(
        job.file.path,
        job.format,
        has_header=options.get("has_header", True),
        sheet=options.get("sheet", ""),
    ) as table:
        plan = mapping_plan(job.mapping or None, table.headers)
        cleaner = RowCleaner(plan, options.get("default_region", "US"))
        for number, cells, error in islice(table.rows, limit):
            if error:
                preview.append(PreviewRow(number, None, error))
                continue
            try:
                preview.append(PreviewRow(number, cleaner.clean(cells), None))
            except RowInvalid as exc:
                preview.append(PreviewRow(number, None, str(exc)))
    _mark_existing(job.workspace, preview)
    return plan, preview


def _mark_existing(workspace: Workspace, preview: list[PreviewRow]) -> None:
    from contacts.models import Contact

    phones = {r.values["phone"] for r in preview if r.values and r.values.get("phone")}
    emails = {r.values["email"] for r in preview if r.values and r.values.get("email")}
    found = Contact.objects.for_workspace(workspace).filter(
        Q(phone__in=phones) | Q(email__in=emails)
    )
    known_phones, known_emails = set(), set()
    for phone, email in found.values_list("phone", "email"):
        known_phones.add(phone)
        known_emails.add(email)
    for row in preview:
        if row.values and (
            row.values.get("phone") in known_phones or row.values.get("email") in known_emails
        ):
            row.match = "existing"


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
    with open_table(
        job.file.path,
        job.format,
        has_header=options.get("has_header", True),
        sheet=options.get("sheet", ""),
    ) as table:
        headers = table.headers
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
        group, _ = ContactGroup.objects.get_or_create(workspace=job.workspace, name=name)
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


# --- running --------------------------------------------------------------------------------


@contextmanager
def _job_lock(job_id: int) -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, job_id])
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, job_id])


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run (or resume) a confirmed job. Idempotent: a finished or locked job is left alone."""
    job = ImportJob.objects.filter(pk=job_id).select_related("workspace", "group").first()
    if job is None or job.confirmed_at is None:
        return job
    with _job_lock(job.pk) as locked:
        job.refresh_from_db()
        if not locked or job.status == JobStatus.COMPLETED:
            return job
        claimed = ImportJob.objects.filter(pk=job.pk).exclude(status=JobStatus.COMPLETED).update(
            status=JobStatus.RUNNING, error_message="", heartbeat_at=now(),
            started_at=job.started_at or now(), finished_at=None,
        )  # fmt: skip
        if not claimed:
            return job
        job.refresh_from_db()
        try:
            _run(job)
        except ImportFileError as exc:
            _finish(job, JobStatus.FAILED, exc.message)
        except Exception as exc:
            logger.exception("Import %s failed", job.pk)
            _finish(
                job,
                JobStatus.FAILED,
                f"The import stopped because of an internal error ({type(exc).__name__}).",
            )
        else:
            _finish(job, JobStatus.COMPLETED, "")
    return job


def _finish(job: ImportJob, status: str, message: str) -> None:
    job.status, job.error_message, job.finished_at = status, message, now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, error_message=message, finished_at=job.finished_at
    )


def _open(job: ImportJob):
    options = job.options or {}
    return open_table(
        job.file.path,
        job.format,
        has_header=options.get("has_header", True),
        sheet=options.get("sheet", ""),
    )


def _run(job: ImportJob) -> None:
    if job.group is None:
        raise ImportFileError("The target group was deleted; start a new import.")
    max_rows = settings.HERALD_IMPORT_MAX_ROWS
    total = 0
    with _open(job) as table:
        for _ in table.rows:
            total += 1
            if total > max_rows:
                raise ImportTooLarge(
                    f"The file has more than {max_rows:,} rows, the most an import can take."
                )
    if total == 0 and job.rows_done == 0:
        raise ImportFileError("The file has a header but no data rows.")
    ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
    job.total_rows = total
    with _open(job) as table:
        plan = mapping_plan(job.mapping or None, table.headers)
        writer = ContactWriter(
            workspace=job.workspace, group=job.group, strategy=job.duplicate_strategy,
            cleaner=RowCleaner(plan, (job.options or {}).get("default_region", "US")),
        )  # fmt: skip
        rows = islice(table.rows, job.rows_done, None)  # resume after the committed batches
        size = _batch_size()
        batches = (
            (len(batch), *writer.clean(batch))
            for batch in iter(lambda: list(islice(rows, size)), [])
        )
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            _write_pipelined(job, writer, batches)
        else:
            for count, valid, invalid in batches:
                _write_batch(job, writer, count, valid, invalid)


def _write_pipelined(job: ImportJob, writer: ContactWriter, batches) -> None:
    """Clean the next batch here while a second thread (own connection) writes this one.

    Reading and validating is Python; writing is mostly waiting on PostgreSQL: overlapping
    them uses both cores. Batches are still written one at a time, in order, each in its
    own transaction with the job's progress.
    """
    pending: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def write_all() -> None:
        try:
            while (item := pending.get()) is not None:
                if failure:
                    continue  # keep draining so the reader never blocks
                try:
                    _write_batch(job, writer, *item)
                except BaseException as exc:
                    failure.append(exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=write_all, name=f"import-{job.pk}-writer", daemon=True)
    thread.start()
    try:
        for item in batches:
            if failure:
                break
            pending.put(item)
    finally:
        pending.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _write_batch(job: ImportJob, writer: ContactWriter, count: int, valid, invalid) -> None:
    with transaction.atomic():
        result = writer.write_clean(valid, invalid)
        job.rows_done += count
        job.created += result.created
        job.updated += result.updated
        job.duplicates += result.duplicates
        job.invalid += len(result.invalid)
        if result.invalid:
            ImportRowError.objects.bulk_create(
                [
                    ImportRowError(job=job, row_number=n, values=cells, error=e)
                    for n, cells, e in result.invalid
                ],
                batch_size=1000,
            )
            room = KEPT_ERRORS - len(job.errors or [])
            if room > 0:
                job.errors = [
                    *(job.errors or []),
                    *({"row": n, "error": e} for n, _, e in result.invalid[:room]),
                ]
        job.heartbeat_at = now()
        ImportJob.objects.filter(pk=job.pk).update(
            rows_done=job.rows_done, created=job.created, updated=job.updated,
            duplicates=job.duplicates, invalid=job.invalid, errors=job.errors,
            heartbeat_at=job.heartbeat_at,
        )  # fmt: skip


def import_job_refresh(*, job: ImportJob) -> ImportJob:
    """Mark a running job whose worker died as failed, so nobody waits on it forever."""
    if job.status != JobStatus.RUNNING:
        return job
    dead = False
    if connection.vendor == "postgresql":
        with _job_lock(job.pk) as locked:
            if locked:  # a live runner holds the lock for the whole run
                job.refresh_from_db()
                dead = job.status == JobStatus.RUNNING
    else:
        dead = job.heartbeat_at is not None and now() - job.heartbeat_at > STALE_AFTER
    if dead:
        message = (
            f"The import stopped unexpectedly (its worker crashed or was stopped) after "
            f"{job.rows_done:,} of {job.total_rows:,} rows. Resume it to import the rest; "
            "rows already imported are not imported twice."
        )
        if ImportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, error_message=message, finished_at=now()
        ):
            job.refresh_from_db()
    return job


def import_job_resume(*, job: ImportJob) -> ImportJob:
    """Queue a failed (or stuck) job again; it continues after its last committed batch."""
    job = import_job_refresh(job=job)
    if job.confirmed_at is None or job.status != JobStatus.FAILED:
        raise ImportFileError("Only a failed import can be resumed.")
    ImportJob.objects.filter(pk=job.pk, status=JobStatus.FAILED).update(
        status=JobStatus.PENDING, error_message=""
    )
    job.refresh_from_db()
    from contacts.tasks import import_contacts_task

    import_contacts_task.delay_on_commit(job.pk)
    return job


def import_job_error_rows(*, job: ImportJob) -> Iterator[list[str]]:
    """The skipped-rows CSV: the file's columns plus `error`, one line per skipped row."""
    headers = None
    try:
        with _open(job) as table:
            headers = table.headers
    except ImportFileError:
        pass
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
