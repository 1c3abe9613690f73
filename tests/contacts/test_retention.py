"""Storage retention (issue 13, item 11): expired import drafts and finished exports go with
their files, by a beat task; a GET never starts an export job."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from contacts.models import ExportJob, ImportJob, JobStatus
from contacts.tasks import retention_purge_task
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _old(days: int):
    return timezone.now() - timedelta(days=days)


def _import(workspace, name: str, *, days: int, confirmed: bool = False) -> ImportJob:
    job = ImportJob(workspace=workspace, original_filename=name, created_at=_old(days))
    if confirmed:
        job.confirmed_at, job.status = _old(days), JobStatus.COMPLETED
    job.file.save(name, ContentFile(b"phone\n+14155550100\n"), save=False)
    job.save()
    return job


def _export(workspace, *, days: int, status=JobStatus.COMPLETED) -> ExportJob:
    job = ExportJob(workspace=workspace, status=status, created_at=_old(days))
    if status in (JobStatus.COMPLETED, JobStatus.FAILED):
        job.finished_at = _old(days)
    if status == JobStatus.COMPLETED:
        job.file.save("contacts.csv", ContentFile(b"first_name\nAnn\n"), save=False)
    job.save()
    return job


def test_beat_deletes_expired_drafts_and_finished_exports_with_their_files(
    workspace, other_workspace, settings
):
    settings.HERALD_RETENTION_DAYS = 7
    old_draft = _import(workspace, "old.csv", days=8)
    other_draft = _import(other_workspace, "theirs.csv", days=30)
    new_draft = _import(workspace, "new.csv", days=6)
    confirmed = _import(workspace, "done.csv", days=30, confirmed=True)
    old_export = _export(workspace, days=8)
    failed_export = _export(workspace, days=9, status=JobStatus.FAILED)
    new_export = _export(workspace, days=1)
    running = _export(workspace, days=30, status=JobStatus.RUNNING)
    gone_files = [old_draft.file.path, other_draft.file.path, old_export.file.path]

    assert retention_purge_task() == {"import_drafts": 2, "exports": 2}

    assert set(ImportJob.objects.values_list("pk", flat=True)) == {new_draft.pk, confirmed.pk}
    assert set(ExportJob.objects.values_list("pk", flat=True)) == {new_export.pk, running.pk}
    assert not ExportJob.objects.filter(pk=failed_export.pk).exists()
    for path in gone_files:
        assert not _exists(path)
    for kept in (new_draft, confirmed, new_export):
        assert _exists(kept.file.path)
    assert retention_purge_task() == {"import_drafts": 0, "exports": 0}  # nothing left to do


def test_a_job_whose_file_is_already_gone_is_still_deleted(workspace, settings):
    job = _export(workspace, days=30)
    job.file.storage.delete(job.file.name)
    assert retention_purge_task() == {"import_drafts": 0, "exports": 1}
    assert not ExportJob.objects.exists()


def test_the_beat_runs_the_purge():
    entries = django_settings.CELERY_BEAT_SCHEDULE.values()
    assert {"task": "contacts.tasks.retention_purge_task", "schedule": 3600.0} in entries


def test_a_get_never_starts_an_export_job(client_logged_in, workspace, settings):
    settings.HERALD_EXPORT_SYNC_LIMIT = 2
    ContactFactory.create_batch(3, workspace=workspace)
    url = reverse("contacts:contact-export")
    response = client_logged_in.get(url + "?q=")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("contacts:contact-list"))
    assert not ExportJob.objects.exists()
    page = client_logged_in.get(response["Location"]).content.decode()
    assert "3 contacts are too many to download at once" in page
    # the list's button posts, and that starts the job
    assert f'<form method="post" action="{url}?' in page
    response = client_logged_in.post(url)
    job = ExportJob.objects.get()
    assert response["Location"] == reverse("contacts:export-detail", args=[job.pk])


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).exists()
