"""Contacts import (SPEC I1-I7): readers, mapping, validation, dedup/writer and jobs.

The services are imported lazily (PEP 562), so `contacts.importing.readers` loads without
Django: the limited child process that reads uploads (sandbox.py) imports only the readers.
"""

from importlib import import_module

from .errors import ImportFileError, ImportTooLarge

_SERVICES = {
    "import_counts": "jobs",
    "import_job_confirm": "jobs",
    "import_job_create": "jobs",
    "import_job_create_from_text": "jobs",
    "import_job_error_rows": "jobs",
    "import_job_get": "jobs",
    "import_job_inspect": "jobs",
    "import_job_preview": "jobs",
    "import_job_read": "jobs",
    "import_job_read_state": "jobs",
    "import_job_set_options": "jobs",
    "import_job_set_mapping": "jobs",
    "import_job_refresh": "runner",
    "import_job_resume": "runner",
    "import_job_run": "runner",
}

__all__ = ["ImportFileError", "ImportTooLarge", *_SERVICES]


def __getattr__(name: str):
    module = _SERVICES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
