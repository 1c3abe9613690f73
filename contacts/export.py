"""CSV export of contacts (C8): the fixed columns, then one column per metadata key.

Rows stream from the database in chunks, so memory does not grow with the export. Cells are
written by core.csv, which neutralises formulas (an E.164 number stays as it is, so an export
re-imports unchanged).
"""

import io
import logging
import tempfile
from collections.abc import Iterator

from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import F, Func, QuerySet
from django.utils.timezone import now

from accounts.models import Workspace
from core.csv import csv_write

from .models import Contact, ExportJob, GroupMembership, JobStatus
from .selectors import contact_list

FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "timezone",
    "status",
    "opt_out_reason",
    "opted_out_at",
    "carrier",
    "line_type",
    "is_valid",
    "tags",
    "groups",
    "created_at",
    "click_count",
    "last_clicked_at",
    "conversion_count",
    "revenue_total",
    "last_revenue_at",
)
CHUNK = 2000
logger = logging.getLogger(__name__)


def metadata_keys(queryset: QuerySet) -> list[str]:
    """Every metadata key used by the contacts of `queryset`, sorted."""
    base = queryset.order_by()
    if connection.vendor == "postgresql":
        keys = (
            base.annotate(key=Func(F("metadata"), function="jsonb_object_keys"))
            .values_list("key", flat=True)
            .distinct()
        )
        return sorted(keys)
    found: set[str] = set()
    for metadata in base.values_list("metadata", flat=True).iterator(chunk_size=CHUNK):
        found.update((metadata or {}).keys())
    return sorted(found)


def metadata_header(key: str) -> str:
    """A metadata key's column: its name, or `metadata:<key>` when a fixed column has that
    name (the API accepts e.g. metadata.company), so no header is repeated."""
    return f"metadata:{key}" if key in FIELDS else key


ROW_COLUMNS = ("pk", *(f for f in FIELDS if f not in {"tags", "groups"}), "metadata")


def _names(through, column: str, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for contact_id, name in through.filter(contact_id__in=ids).values_list("contact_id", column):
        found.setdefault(contact_id, []).append(name)
    return found


def _row_chunks(queryset: QuerySet) -> Iterator[tuple[list[dict], dict, dict]]:
    """Rows as dicts in pk order, CHUNK at a time (keyset, so page 500 costs what page 1 does),
    with their tag and group names: plain values, no model instances or related managers."""
    last = 0
    base = queryset.order_by("pk")
    while True:
        rows = list(base.filter(pk__gt=last).values(*ROW_COLUMNS)[:CHUNK])
        if not rows:
            return
        ids = [row["pk"] for row in rows]
        tags = _names(Contact.tags.through.objects, "tag__name", ids)
        groups = _names(GroupMembership.objects, "group__name", ids)
        yield rows, tags, groups
        last = ids[-1]


def export_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """The header, then one row per contact of `queryset` (already workspace-scoped), as
    values for core.csv (which formats and neutralises them)."""
    keys = metadata_keys(queryset)
    yield [*FIELDS, *(metadata_header(k) for k in keys)]
    for rows, tags, groups in _row_chunks(queryset):
        for row in rows:
            row["tags"] = ", ".join(sorted(tags.get(row["pk"], ())))
            row["groups"] = ", ".join(sorted(groups.get(row["pk"], ())))
            metadata = row["metadata"] or {}
            yield [row[f] for f in FIELDS] + [metadata.get(k) for k in keys]


def export_to_file(queryset: QuerySet, fileobj, *, bom: bool = True) -> int:
    """Write the CSV to an open text file; returns the number of contacts written.

    `bom` starts the file with a UTF-8 byte order mark, which Excel needs to read accents.
    """
    return csv_write(export_rows(queryset), fileobj, bom=bom) - 1  # less the header


def export_job_create(
    *, workspace: Workspace, filters: dict, contact_ids: list[int] | None, created_by=None
) -> ExportJob:
    """A background export of the filtered (or listed) contacts; its task is queued on commit."""
    from .tasks import export_contacts_task

    job = ExportJob.objects.create(
        workspace=workspace, created_by=created_by, filters=filters, contact_ids=contact_ids
    )
    transaction.on_commit(lambda: export_contacts_task.delay(job.pk))
    return job


def export_job_queryset(job: ExportJob) -> QuerySet:
    if job.contact_ids is not None:
        return contact_list(workspace=job.workspace, ids=job.contact_ids)
    return contact_list(workspace=job.workspace, filters=job.filters)


def export_job_run(*, job_id: int) -> None:
    """Run a pending export job. Idempotent: a job another worker claimed or finished is left."""
    claimed = ExportJob.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING
    )
    if not claimed:
        return
    job = ExportJob.objects.select_related("workspace").get(pk=job_id)
    try:
        with tempfile.TemporaryFile() as tmp:
            text = io.TextIOWrapper(tmp, encoding="utf-8", newline="")
            count = export_to_file(export_job_queryset(job), text)
            text.flush()
            text.detach()
            tmp.seek(0)
            name = f"contacts-{job.workspace.slug}-{job.pk}.csv"
            job.file.save(name, File(tmp), save=False)
        job.row_count = count
        job.status = JobStatus.COMPLETED
    except Exception as exc:  # recorded on the job for the user; the worker carries on
        logger.exception("Export %s failed", job_id)
        job.status = JobStatus.FAILED
        job.error_message = f"The export failed: {exc}"
    finally:
        job.finished_at = now()
        job.save()
