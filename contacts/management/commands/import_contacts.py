"""`manage.py import_contacts FILE --workspace SLUG --group NAME ...` (I6).

Runs the same import code as the UI, synchronously, and prints the counts as one JSON object
on its last line.
"""

import json
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from contacts.importing import (
    ImportFileError,
    import_counts,
    import_job_confirm,
    import_job_create,
    import_job_read,
    import_job_run,
    import_job_set_mapping,
)
from contacts.models import ImportJob, JobStatus


class Command(BaseCommand):
    help = "Import contacts from a CSV, TSV, Excel or vCard file into a group."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--group", required=True, help="Group name (created if missing).")
        parser.add_argument("--mapping", help='JSON object {"Column": "field"}; default: guessed.')
        parser.add_argument(
            "--duplicate-strategy", default="skip", choices=ImportJob.DuplicateStrategy.values
        )
        parser.add_argument("--default-region", default="", help="Region for national numbers.")
        parser.add_argument("--sheet", default="", help="Excel sheet name (default: the first).")
        parser.add_argument("--no-header", action="store_true", help="The first row is data.")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug “{options['workspace']}”.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        mapping = None
        if options["mapping"]:
            try:
                mapping = json.loads(options["mapping"])
            except json.JSONDecodeError as exc:
                raise CommandError(f"--mapping is not valid JSON: {exc}") from exc
        try:
            with path.open("rb") as handle:
                job = import_job_create(
                    workspace=workspace, user=None, file=File(handle), filename=path.name,
                    size=path.stat().st_size, queue=False,
                    options={
                        "has_header": not options["no_header"], "sheet": options["sheet"],
                        "has_header_chosen": options["no_header"],
                    },
                )  # fmt: skip
            job = import_job_read(job_id=job.pk)  # here, in the limited child, as a worker would
            import_job_set_mapping(job=job, mapping=mapping)
            import_job_confirm(
                job=job, group_name=options["group"],
                duplicate_strategy=options["duplicate_strategy"],
                default_region=options["default_region"], enqueue=False,
            )  # fmt: skip
        except ImportFileError as exc:
            raise CommandError(exc.message) from exc
        job = import_job_run(job_id=job.pk)
        if job.status != JobStatus.COMPLETED:
            self.stderr.write(f"Import {job.pk} failed: {job.error_message}")
        for error in job.errors[:10]:
            self.stderr.write(f"Row {error['row']}: {error['error']}")
        self.stdout.write(json.dumps({"job": job.pk, "status": job.status, **import_counts(job)}))
        if job.status != JobStatus.COMPLETED:
            raise SystemExit(1)
