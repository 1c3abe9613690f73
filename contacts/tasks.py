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
def import_contacts_task(job_id: int) -> None:
    """Run or resume an import job (I5). Idempotent: a finished job, or one another worker
    holds, is left alone; a resumed job starts after its last committed batch."""
    from .importing import import_job_run

    import_job_run(job_id=job_id)
