"""Storage retention (issue 13, item 11): files with personal data are not kept for ever.

Unconfirmed import drafts (an upload whose mapping was never confirmed) and finished exports
(completed or failed) older than `HERALD_RETENTION_DAYS` are deleted with their files by a beat
task (`contacts.tasks.retention_purge_task`, hourly). A confirmed import keeps its record (its
counts and skipped rows are the import's history); a running one is never touched.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils.timezone import now

from .models import ExportJob, ImportJob, JobStatus

logger = logging.getLogger("herald.retention")


def _delete_with_files(jobs) -> int:
    deleted = 0
    for job in jobs.iterator(chunk_size=200):
        if job.file:
            try:
                job.file.delete(save=False)
            except OSError:  # already gone, or the storage refused: the row still goes
                logger.warning("Could not delete %s of %s", job.file.name, job, exc_info=True)
        job.delete()
        deleted += 1
    return deleted


def retention_purge(*, at=None) -> dict[str, int]:
    """Delete expired import drafts and finished exports, files first; returns the counts."""
    cutoff = (at or now()) - timedelta(days=settings.HERALD_RETENTION_DAYS)
    drafts = ImportJob.objects.filter(confirmed_at__isnull=True, created_at__lt=cutoff)
    finished = [JobStatus.COMPLETED, JobStatus.FAILED]
    exports = ExportJob.objects.filter(status__in=finished).filter(
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    )
    counts = {"import_drafts": _delete_with_files(drafts), "exports": _delete_with_files(exports)}
    if any(counts.values()):
        logger.info("Retention: deleted %(import_drafts)s drafts, %(exports)s exports", counts)
    return counts
