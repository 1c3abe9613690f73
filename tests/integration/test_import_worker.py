"""Imports on a real Celery worker (Redis + PostgreSQL), including a worker killed mid-import."""

import time

import pytest
from django.core.files.base import ContentFile

from contacts.importing import (
    import_job_confirm,
    import_job_create,
    import_job_inspect,
    import_job_read_state,
    import_job_refresh,
    import_job_resume,
    import_job_set_mapping,
)
from contacts.models import Contact, ImportJob, JobStatus
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.integration


def _csv(n: int) -> bytes:
    lines = ["First Name,Email,Plan"] + [f"Person {i},person{i}@example.com,gold" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def _start_import(workspace, data: bytes) -> ImportJob:
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(data), filename="big.csv"
    )
    import_job_set_mapping(job=job, mapping=None)
    return import_job_confirm(job=job, group_name="Worker")  # queued on commit


def _wait(job: ImportJob, until, timeout: float = 60, interval: float = 0.02) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if until(job):
            return job
        time.sleep(interval)
    pytest.fail(
        f"Import {job.pk} stuck: {job.status} {job.rows_done}/{job.total_rows} {job.error_message}"
    )


def test_worker_runs_an_import(celery_worker):
    celery_worker()
    workspace = WorkspaceFactory()
    job = _wait(_start_import(workspace, _csv(500)), lambda j: j.status == JobStatus.COMPLETED)
    assert (job.total_rows, job.created, job.invalid) == (500, 500, 0)
    assert Contact.objects.filter(workspace=workspace, metadata__plan="gold").count() == 500


def test_worker_killed_mid_import_then_resumed_duplicates_nothing(celery_worker):
    rows, batch = 12_000, 200
    worker = celery_worker(env={"HERALD_IMPORT_BATCH_SIZE": str(batch)})
    workspace = WorkspaceFactory()
    job = _start_import(workspace, _csv(rows))
    _wait(job, lambda j: j.rows_done >= 4 * batch)
    worker.kill()

    job = _wait(
        job,
        lambda j: import_job_refresh(job=j).status == JobStatus.FAILED,
        timeout=10,
        interval=0.1,
    )
    assert "stopped unexpectedly" in job.error_message
    assert 0 < job.rows_done < rows and job.rows_done % batch == 0  # whole batches only
    assert Contact.objects.filter(workspace=workspace).count() == job.created == job.rows_done

    celery_worker(env={"HERALD_IMPORT_BATCH_SIZE": str(batch)})
    import_job_resume(job=job)
    job = _wait(job, lambda j: j.status == JobStatus.COMPLETED)
    assert (job.total_rows, job.rows_done, job.created, job.duplicates, job.invalid) == (
        rows,
        rows,
        rows,
        0,
        0,
    )
    contacts = Contact.objects.filter(workspace=workspace)
    assert contacts.count() == rows
    assert contacts.values("email").distinct().count() == rows
    assert job.group.memberships.count() == rows


def test_worker_reads_uploads_and_survives_a_hostile_one(celery_worker):
    # #13: the upload only stores the file; the worker reads it in the limited child. A
    # sparse .xlsx that makes calamine abort its process fails the draft, not the worker.
    import io

    from openpyxl import Workbook

    celery_worker()
    workspace = WorkspaceFactory()
    book = Workbook()
    book.active["A1"], book.active["XFD1048576"] = "Phone", "x"
    sparse = io.BytesIO()
    book.save(sparse)
    bad = import_job_create(
        workspace=workspace, user=None, file=ContentFile(sparse.getvalue()), filename="x.xlsx"
    )
    good = import_job_create(
        workspace=workspace, user=None, file=ContentFile(_csv(3)), filename="ok.csv"
    )
    assert import_job_read_state(bad) == import_job_read_state(good) == "inspecting"
    bad = _wait(bad, lambda j: import_job_read_state(j) == "failed")
    assert "could not be read" in bad.error_message or "16,384" in bad.error_message
    good = _wait(good, lambda j: import_job_read_state(j) == "ready")
    assert import_job_inspect(job=good).headers == ["First Name", "Email", "Plan"]
