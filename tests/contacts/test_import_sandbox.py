"""Uploads are read by a worker task in a limited child process (#13): a file made to exhaust
memory or CPU is a clear error on the upload's draft, the web process keeps answering and
nothing of the file is kept. (tests/conftest.py runs the queued reading at once.)"""

import io
import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from contacts.importing import (
    ImportFileError,
    import_job_confirm,
    import_job_create,
    import_job_inspect,
)
from contacts.importing.sandbox import read_head
from contacts.models import ContactGroup, ImportJob


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _stored_files(media) -> list[str]:
    return [name for _, _, names in os.walk(media) for name in names]


def _sparse_xlsx() -> bytes:
    # 4.8 KB holding only A1 and XFD1048576: calamine allocates for the whole 512 GiB grid and
    # the Rust runtime aborts the process (it took the web worker down with it).
    workbook = Workbook()
    workbook.active["A1"] = "Phone"
    workbook.active["XFD1048576"] = "x"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _qp_vcard(path, lines: int) -> None:
    with open(path, "w", newline="") as f:
        f.write("BEGIN:VCARD\r\nVERSION:2.1\r\nNOTE;ENCODING=QUOTED-PRINTABLE:")
        f.write("AB=\r\n" * lines)
        f.write("C\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nEND:VCARD\r\n")


def test_sparse_xlsx_is_refused_and_nothing_is_kept(workspace, media):
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(_sparse_xlsx()), filename="x.xlsx"
    )
    job.refresh_from_db()
    assert job.options["read"] == "failed" and "cells up to column 16,384" in job.error_message
    assert not job.file and _stored_files(media) == []
    with pytest.raises(ImportFileError, match="cells up to column 16,384"):
        import_job_inspect(job=job)
    with pytest.raises(ImportFileError, match="cells up to column 16,384"):
        import_job_confirm(job=job, group_name="X")
    assert not ContactGroup.objects.exists()


def test_reading_past_the_memory_budget_is_a_clear_error(settings, tmp_path):
    # Within the column and cell limits (10 columns by a million rows), calamine still holds
    # the whole grid: over the child's address space it aborts, and only the child dies.
    settings.HERALD_IMPORT_READ_MEMORY = 200 * 1024 * 1024
    workbook = Workbook()
    workbook.active["A1"] = "Phone"
    workbook.active["J1000000"] = "x"
    workbook.save(tmp_path / "tall.xlsx")
    with pytest.raises(ImportFileError, match="could not be read: reading it needs more memory"):
        read_head(tmp_path / "tall.xlsx", "xlsx", rows=2)


def test_sparse_xlsx_upload_page_shows_the_error_and_keeps_answering(
    client_logged_in, workspace, media
):
    response = client_logged_in.post(
        "/contacts/import/", {"file": SimpleUploadedFile("x.xlsx", _sparse_xlsx())}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "This file could not be read" in page and "cells up to column 16,384" in page
    assert "every 1s" not in page  # nothing left to wait for
    assert _stored_files(media) == []
    good = b"Name,Phone\nAda,+14155550132\n"
    response = client_logged_in.post(
        "/contacts/import/", {"file": SimpleUploadedFile("ok.csv", good)}, follow=True
    )
    assert response.status_code == 200 and "Map columns" in response.content.decode()


def test_sparse_xlsx_api_upload_is_a_json_error(api_client, workspace, media):
    response = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("x.xlsx", _sparse_xlsx())}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "failed" and "cells up to column 16,384" in body["error_message"]
    again = api_client.get(f"/api/v1/contacts/upload/{body['upload_id']}").json()
    assert again["status"] == "failed" and again["headers"] == []
    assert _stored_files(media) == []
    response = api_client.post(
        "/api/v1/contacts/mapped/file",
        {"upload_id": body["upload_id"], "group_name": "X"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "cells up to column 16,384" in response.json()["message"]


def test_million_soft_line_breaks_vcard_reads_within_the_cpu_budget(workspace, settings, tmp_path):
    settings.HERALD_IMPORT_READ_CPU_SECONDS = 10  # about 20 times what the linear reader needs
    path = tmp_path / "bomb.vcf"
    _qp_vcard(path, 1_000_000)
    with open(path, "rb") as f:
        job = import_job_create(
            workspace=workspace, user=None, file=ContentFile(f.read()), filename="bomb.vcf"
        )
    inspection = import_job_inspect(job=job)
    assert inspection.rows == [["Ann", "Lee", "", "", "", ""]]


def test_reading_past_the_cpu_budget_is_a_clear_error(settings, tmp_path):
    settings.HERALD_IMPORT_READ_CPU_SECONDS = 1
    path = tmp_path / "big.vcf"
    _qp_vcard(path, 5_000_000)  # 20 MB: about 2.5 s of CPU to read
    with pytest.raises(ImportFileError, match="more computing time than an import may use"):
        read_head(path, "vcard", rows=5)


def test_reading_past_the_wall_clock_budget_is_a_clear_error(settings, tmp_path):
    settings.HERALD_IMPORT_READ_WALL_SECONDS = 2
    fifo = tmp_path / "never.csv"
    os.mkfifo(fifo)  # opening it blocks forever: no writer ever comes
    with pytest.raises(ImportFileError, match="took longer than 2 seconds"):
        read_head(fifo, "csv")


def test_reader_errors_come_back_as_they_are(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\n\n")
    with pytest.raises(ImportFileError, match="The file is empty"):
        read_head(path, "csv")


def test_read_head_keeps_the_sniffed_shape(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("Name;Phone\nZoë;1\nAnn;2\n".encode("cp1252"))
    head = read_head(path, "csv", rows=1)
    assert (head.headers, head.encoding, head.delimiter) == (["Name", "Phone"], "cp1252", ";")
    assert head.rows == [(2, ["Zoë", "1"], None)]


def test_upload_keeps_encoding_delimiter_and_headers_and_later_steps_use_them(workspace):
    from contacts.importing import (
        import_job_confirm,
        import_job_preview,
        import_job_run,
        import_job_set_mapping,
    )
    from contacts.models import Contact

    data = "Name;Phone\nZoë;+14155550132\n".encode()
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(data), filename="z.csv"
    )
    job.refresh_from_db()
    options = job.options
    assert (options["encoding"], options["delimiter"]) == ("utf-8", ";")
    assert options["headers"] == ["Name", "Phone"]
    # A byte that is not UTF-8 past the head: finding the encoding again would read the whole
    # file and make it cp1252 ("ZoÃ«"); the steps and the run use what the upload found.
    with open(job.file.path, "ab") as f:
        f.write(b"Ann \xff;+14155550133\n")
    _, preview = import_job_preview(job=import_job_set_mapping(job=job, mapping=None))
    assert preview[0].values["first_name"] == "Zoë"
    import_job_confirm(job=job, group_name="Z", enqueue=False)
    import_job_run(job_id=job.pk)
    ann = Contact.objects.get(phone="+14155550133")
    assert (ann.first_name, ann.last_name) == ("Ann", "ÿ")  # as UTF-8 with the Latin-1 fallback
    assert Contact.objects.get(phone="+14155550132").first_name == "Zoë"


def test_upload_whose_first_rows_cannot_be_read_is_refused_whole(client_logged_in, media):
    data = b"Name,Phone\nAda,+14155550132\n" + b"," * (2 * 1024 * 1024) + b"\n"
    response = client_logged_in.post(
        "/contacts/import/", {"file": SimpleUploadedFile("wide.csv", data)}, follow=True
    )
    assert response.status_code == 200
    assert "Row 3 (from line 3) is longer than 1 MB" in response.content.decode()
    assert _stored_files(media) == []


def test_upload_is_read_once_by_the_worker_and_never_by_the_pages(workspace, monkeypatch):
    from contacts.importing import jobs

    calls = []
    real = jobs.read_head
    monkeypatch.setattr(jobs, "read_head", lambda *a, **k: calls.append(k["rows"]) or real(*a, **k))
    data = b"Name,Phone\nAda,+14155550132\n"
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(data), filename="a.csv"
    )
    assert import_job_inspect(job=job).rows == [["Ada", "+14155550132"]]
    assert calls == [jobs.INSPECT_ROWS]
    job = ImportJob.objects.get(pk=job.pk)  # a new request uses what the worker kept
    import_job_inspect(job=job)
    jobs.import_job_preview(job=jobs.import_job_set_mapping(job=job, mapping=None))
    assert calls == [jobs.INSPECT_ROWS]
