"""Running import jobs (I5, I7): lock, count, write batches, detect dead workers, resume.

`import_job_run` is what the Celery task, the command line and the tests all call. It holds a
lock for the job (a PostgreSQL advisory lock, released by the server if the worker dies),
counts the rows (limits are checked before anything is written; a delimited file's line
breaks bound its rows, so one under the limit is read once), then writes batches; each
batch commits together with the job's progress (`rows_done` and counts), so after a crash the
job resumes at the first unwritten batch and nothing is written twice.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice

from django.conf import settings
from django.db import connection, transaction
from django.utils.timezone import now

from contacts.models import ImportJob, ImportRowError, JobStatus

from .errors import ImportFileError, ImportTooLarge
from .jobs import (
    READY,
    import_job_inspect,
    import_job_read,
    import_job_read_state,
    job_headers,
    no_rows_message,
)
from .mapping import mapping_plan
from .readers import open_table
from .validation import RowCleaner
from .writer import ContactWriter, copy_fields

logger = logging.getLogger(__name__)
LOCK_CLASS = 0x484C44  # "HLD": the advisory-lock namespace for import jobs
STALE_AFTER = timedelta(minutes=10)  # without advisory locks (SQLite), a silent job is dead
KEPT_ERRORS = 50  # errors listed on the job itself; all of them are in ImportRowError
_json = json.JSONEncoder().encode  # as Django's JSONField stores the cells


def _batch_size() -> int:
    return int(getattr(settings, "HERALD_IMPORT_BATCH_SIZE", 2000))


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


def open_job_table(job: ImportJob):
    """The job's file as a Table, read with the job's options (header row, sheet)."""
    options = job.options or {}
    return open_table(
        job.file.path,
        job.format,
        has_header=options.get("has_header", True),
        sheet=options.get("sheet", ""),
        encoding=options.get("encoding", ""),
        delimiter=options.get("delimiter", ""),
    )


def _run(job: ImportJob) -> None:
    if job.group is None:
        raise ImportFileError("The target group was deleted; start a new import.")
    if import_job_read_state(job) != READY:
        # Confirmed before the file was read (the API's one-step import): this worker reads
        # it in the limited child first, as for the wizard, and never opens a file that
        # could not be read that way.
        import_job_read(job_id=job.pk)
        job.refresh_from_db(fields=["options", "error_message"])
        job_headers(job)  # the reason it could not be read, as the job's error
    if not job.mapping:  # the guess, from the values too (a headerless file's columns)
        job.mapping = import_job_inspect(job=job).mapping
    total, exact = _row_count(job)
    ImportJob.objects.filter(pk=job.pk).update(total_rows=total)
    job.total_rows = total
    headers = _write_rows(job)
    if not exact:  # the rows read, now that they all were
        if job.rows_done == 0:
            raise ImportFileError(no_rows_message(headers))
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.rows_done)
        job.total_rows = job.rows_done


def _row_count(job: ImportJob) -> tuple[int, bool]:
    """The file's data rows and True, or for delimited text that certainly fits the row limit,
    an upper bound (its lines, counted in C at ~0.3 µs a row) and False: reading and parsing
    the whole file only to count it cost ~4 µs a row, about 6% of a first import's CPU.

    The limit is checked before anything is written either way.
    """
    max_rows = settings.HERALD_IMPORT_MAX_ROWS
    if job.format == "csv":
        bound = _line_bound(job.file.path) - (
            1 if (job.options or {}).get("has_header", True) else 0
        )
        if bound <= max_rows:
            return max(bound, 0), False
    total = 0
    with open_job_table(job) as table:
        for _ in table.rows:
            total += 1
            if total > max_rows:
                raise ImportTooLarge(
                    f"The file has more than {max_rows:,} rows, the most an import can take."
                )
    if total == 0 and job.rows_done == 0:
        raise ImportFileError(no_rows_message(table.headers))
    return total, True


def _line_bound(path: str) -> int:
    """At least as many lines as the file has records: its line breaks (\\n, \\r and \\r\\n
    each count once, the only ones the reader splits records at), plus an unterminated last
    line. In UTF-16 a break's byte is counted too, with a few others: still a bound."""
    breaks, last = 0, b""
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            breaks += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if last == b"\r" and chunk[:1] == b"\n":
                breaks -= 1  # a CR LF split between two chunks
            last = chunk[-1:]
    return breaks + (0 if last in (b"\n", b"\r", b"") else 1)


def _write_rows(job: ImportJob) -> list[str]:
    """Write the rows not written yet in batches; returns the file's headers."""
    with open_job_table(job) as table:
        plan = mapping_plan(job.mapping or None, table.headers)
        writer = ContactWriter(
            workspace=job.workspace, group=job.group, strategy=job.duplicate_strategy,
            cleaner=RowCleaner(plan, (job.options or {}).get("default_region", "US")),
            since=job.started_at,
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
    return table.headers


def _write_pipelined(job: ImportJob, writer: ContactWriter, batches) -> None:
    """Clean the next batch here while a second thread (own connection) writes this one.

    Reading and validating is Python; writing is mostly waiting on PostgreSQL: overlapping
    them uses both cores. Batches are still written one at a time, in order, each in its
    own transaction with the job's progress.
    """
    pending: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []
    # The writer wakes from each of a batch's ~10 round trips to PostgreSQL needing the GIL,
    # which the cleaning thread gives up only every switch interval (5 ms by default).
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, 0.0005))

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
        sys.setswitchinterval(switch_interval)
    if failure:
        raise failure[0]


def _write_batch(job: ImportJob, writer: ContactWriter, count: int, valid, invalid) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The batch commits with the job's progress, so a batch lost in a crash is simply
            # written again on resume: no need to wait for the WAL flush. (A later durable
            # commit, like the job's completion, flushes everything before it.)
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        result = writer.write_clean(valid, invalid)
        job.rows_done += count
        job.created += result.created
        job.updated += result.updated
        job.duplicates += result.duplicates
        job.invalid += len(result.invalid)
        if result.invalid:
            _store_errors(job, result.invalid)
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


def _store_errors(job: ImportJob, invalid: list[tuple[int, list[str], str]]) -> None:
    if connection.vendor != "postgresql":
        ImportRowError.objects.bulk_create(
            [
                ImportRowError(job=job, row_number=n, values=cells, error=e)
                for n, cells, e in invalid
            ],
            batch_size=1000,
        )
        return
    # COPY, as for contacts: bulk_create's per-object work runs in the writer thread, whose
    # own time (not PostgreSQL's) is what a batch waits on.
    table = ImportRowError._meta.db_table
    lines = "".join(
        copy_fields([str(job.pk), str(n), _json(cells), error]) + "\n"
        for n, cells, error in invalid
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} (job_id, row_number, values, error) FROM STDIN") as copy,
    ):
        copy.write(lines)


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
