"""Imports on a real Celery worker (Redis + PostgreSQL), including a worker killed mid-import."""

import time

import pytest
from django.core.files.base import ContentFile

from contacts.importing import (
    import_job_confirm,
    import_job_create,
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
