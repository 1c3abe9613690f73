"""Celery tasks for contacts: thin wrappers that take ids and call one service."""

from celery import shared_task


@shared_task(acks_late=True)
def export_contacts_task(job_id: int) -> None:
    """Write a background CSV export (C8); a job already claimed or finished is left alone."""
    from .export import export_job_run

    export_job_run(job_id=job_id)


@shared_task(acks_late=True)
def contacts_delete_all_task(workspace_id: int) -> None:
    """Delete every contact of a workspace (C9); idempotent, batches of a few thousand."""
    from accounts.models import Workspace

    from .services import contacts_delete_all

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        contacts_delete_all(workspace=workspace)


@shared_task(acks_late=True)
def import_inspect_task(job_id: int) -> None:
    """Read an upload's headers and first rows in the limited child process and keep them on
    the draft (#13: no file is parsed in a web request). Idempotent."""
    from .importing import import_job_read

    import_job_read(job_id=job_id)


@shared_task(acks_late=True)
def import_contacts_task(job_id: int) -> None:
    """Run or resume an import job (I5). Idempotent: a finished job, or one another worker
    holds, is left alone; a resumed job starts after its last committed batch."""
    from .importing import import_job_run

    import_job_run(job_id=job_id)


@shared_task(acks_late=True)
def contacts_batch_task(
    workspace_id: int,
    action: str,
    filters: dict,
    source_id: int | None,
    target_id: int | None,
    tag: str,
    actor_id: int | None,
) -> None:
    """A batch action over "all N matching" when N is large (C7). Each action is idempotent:
    a redelivered task re-applies it to whatever still matches."""
    from django.contrib.auth import get_user_model

    from accounts.models import Workspace

    from .batch import contacts_batch_matching

    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    contacts_batch_matching(
        workspace=workspace,
        action=action,
        filters=filters,
        source_id=source_id,
        target_id=target_id,
        tag=tag,
        actor=actor,
    )


@shared_task
def retention_purge_task() -> dict:
    """Delete expired import drafts and finished exports with their files (beat, hourly)."""
    from .retention import retention_purge

    return retention_purge()
