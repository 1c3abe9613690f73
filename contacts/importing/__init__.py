"""Contacts import (SPEC I1-I7): readers, mapping, validation, dedup/writer and jobs."""

from .errors import ImportFileError, ImportTooLarge
from .jobs import (
    import_counts,
    import_job_confirm,
    import_job_create,
    import_job_create_from_text,
    import_job_error_rows,
    import_job_get,
    import_job_inspect,
    import_job_preview,
    import_job_set_mapping,
)
from .runner import import_job_refresh, import_job_resume, import_job_run

__all__ = [
    "ImportFileError",
    "ImportTooLarge",
    "import_counts",
    "import_job_confirm",
    "import_job_create",
    "import_job_create_from_text",
    "import_job_error_rows",
    "import_job_get",
    "import_job_inspect",
    "import_job_preview",
    "import_job_refresh",
    "import_job_resume",
    "import_job_run",
    "import_job_set_mapping",
]
