"""The import run (#12): a workspace that held no contacts probes only the keys earlier batches
had, the first batch into a table the statistics think empty analyses it, and a delimited file
that certainly fits the row limit is read once (its lines bound the count)."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from contacts import dedup
from contacts.importing import (
    import_job_confirm,
    import_job_create,
    import_job_resume,
    import_job_run,
    import_job_set_mapping,
    runner,
)
from contacts.importing import writer as writer_module
from contacts.importing.writer import SeenKeys
from contacts.models import Contact, JobStatus
from tests.factories import ContactFactory


def _run(workspace, text: str, strategy: str = "skip"):
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(text.encode()), filename="people.csv"
    )
    import_job_set_mapping(job=job, mapping=None)
    import_job_confirm(job=job, group_name="Imported", duplicate_strategy=strategy, enqueue=False)
    return import_job_run(job_id=job.pk)


@pytest.fixture
def probed(monkeypatch):
    """Every key the writer probes for, phones and emails alike."""
    keys: list[str] = []
    real = dedup.probe

    def recording(workspace, *, phones=(), emails=()):
        phones, emails = list(phones), list(emails)
        keys.extend(k for k in (*phones, *emails) if k)
        return real(workspace, phones=phones, emails=emails)

    monkeypatch.setattr(dedup, "probe", recording)
    return keys


ROWS = (
    "Name,Phone,Email\n"
    "Ada,+14155550101,ada@example.com\n"
    "Bob,+14155550102,bob@example.com\n"
    "Cy,+14155550103,cy@example.com\n"
    "Ada again,(415) 555-0101,other@example.com\n"  # batch 2: Ada's phone, from batch 1
    "Bob again,,bob@example.com\n"  # batch 3: Bob's email, from batch 1
    "Dee,+14155550104,dee@example.com\n"
)


def test_empty_workspace_probes_only_keys_of_earlier_batches(workspace, settings, probed):
    settings.HERALD_IMPORT_BATCH_SIZE = 2
    job = _run(workspace, ROWS)
    assert (job.created, job.duplicates, job.invalid) == (4, 2, 0)
    assert sorted(probed) == ["+14155550101", "bob@example.com"]
    stored = Contact.objects.filter(workspace=workspace)
    assert sorted(stored.values_list("first_name", flat=True)) == ["Ada", "Bob", "Cy", "Dee"]


def test_workspace_with_contacts_probes_every_key(workspace, settings, probed):
    settings.HERALD_IMPORT_BATCH_SIZE = 2
    ContactFactory(workspace=workspace, phone="+14155550103", email="")
    job = _run(workspace, ROWS)
    assert (job.created, job.duplicates) == (3, 3)  # Cy is the stored contact
    assert "+14155550103" in probed and "dee@example.com" in probed


def test_update_into_an_empty_workspace_merges_rows_of_other_batches(workspace, settings):
    settings.HERALD_IMPORT_BATCH_SIZE = 2
    job = _run(workspace, ROWS, strategy="update")
    assert (job.created, job.updated, job.duplicates) == (4, 0, 2)
    ada = Contact.objects.get(workspace=workspace, phone="+14155550101")
    assert ada.email == "other@example.com"  # row 4 (batch 2) merged into row 1's contact


def test_resumed_import_into_a_workspace_empty_at_its_start_still_finds_its_rows(
    workspace, settings, monkeypatch
):
    # The resumed writer finds the first run's contacts in the workspace, so it probes every
    # key: a row repeating one written before the crash is a duplicate, not a second contact.
    settings.HERALD_IMPORT_BATCH_SIZE = 2
    real_insert = writer_module.ContactWriter._insert
    calls = {"n": 0}

    def crash_on_second_batch(self, new):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        real_insert(self, new)

    monkeypatch.setattr(writer_module.ContactWriter, "_insert", crash_on_second_batch)
    job = _run(workspace, ROWS)
    assert job.status == JobStatus.FAILED
    monkeypatch.setattr(writer_module.ContactWriter, "_insert", real_insert)
    import_job_resume(job=job)
    job = import_job_run(job_id=job.pk)
    assert job.status == JobStatus.COMPLETED
    assert (job.created, job.duplicates) == (4, 2)
    assert Contact.objects.filter(workspace=workspace).count() == 4


def test_seen_keys_never_forgets_a_key():
    seen = SeenKeys()
    keys = [f"+1415{n:07d}" for n in range(5000)] + [f"p{n}@example.com" for n in range(5000)]
    seen.update(keys[::2])
    assert all(key in seen for key in keys[::2])
    assert sum(key in seen for key in keys[1::2]) <= 5  # a few false positives at most


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statistics are PostgreSQL's")
def test_first_batch_into_a_table_thought_empty_analyses_it(workspace):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")  # the test database's table: empty
        job = _run(workspace, ROWS)
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'contacts_contact'::regclass")
        assert cursor.fetchone()[0] >= job.created == 4


# --- the row count: one full read of a delimited file ------------------------------------------


@pytest.mark.parametrize(
    ("data", "records"),
    [
        (b"a\nb\nc\n", 3),
        (b"a\nb\nc", 3),
        (b"a\r\nb\r\nc\r\n", 3),
        (b"a\rb\rc", 3),
        (b"", 0),
        (b"x" * ((1 << 20) - 1) + b"\r\nb\r\n", 2),  # CR LF across the 1 MiB read
        ("a\r\nb\r\n".encode("utf-16"), 2),
    ],
)
def test_line_bound_is_at_least_the_records(tmp_path, data, records):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    bound = runner._line_bound(str(path))
    assert records <= bound <= 2 * records + 1
    if b"\x00" not in data:
        assert bound == records


def test_delimited_file_is_read_once_and_counted_exactly_at_the_end(workspace, monkeypatch):
    opened = []
    real = runner.open_job_table

    def counting(job):
        opened.append(job.pk)
        return real(job)

    monkeypatch.setattr(runner, "open_job_table", counting)
    text = 'Name,Phone,Note\n\nAda,+14155550101,"two\nlines"\n\nBob,+14155550102,\n'
    job = _run(workspace, text)
    assert len(opened) == 1
    assert (job.total_rows, job.rows_done, job.created) == (2, 2, 2)
    job.refresh_from_db()
    assert job.total_rows == 2


def test_a_file_the_line_bound_cannot_clear_is_counted_before_writing(workspace, settings):
    settings.HERALD_IMPORT_MAX_ROWS = 2
    text = 'Name,Phone\nAda,+14155550101\n"Bob\nB",+14155550102\n'  # 4 lines, 2 rows
    job = _run(workspace, text)
    assert (job.status, job.total_rows, job.created) == (JobStatus.COMPLETED, 2, 2)
    text += "Cy,+14155550103\n"
    job = _run(workspace, text)
    assert job.status == JobStatus.FAILED and "more than 2 rows" in job.error_message
    assert Contact.objects.filter(workspace=workspace).count() == 2  # the first import's
