"""Mapping, validation, dedup, the batch writer and the job lifecycle (I2-I5, I7)."""

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.utils.timezone import now

from contacts.importing import (
    ImportFileError,
    ImportTooLarge,
    import_job_confirm,
    import_job_create,
    import_job_error_rows,
    import_job_preview,
    import_job_refresh,
    import_job_resume,
    import_job_run,
    import_job_set_mapping,
)
from contacts.importing import writer as writer_module
from contacts.importing.mapping import mapping_guess, mapping_plan
from contacts.models import Contact, ContactGroup, GroupMembership, ImportJob, JobStatus
from tests.factories import ContactFactory, ContactGroupFactory

CSV = (
    "Full Name,E-mail Address,Mobile,Appointment Date,Firma\n"
    "Ada Lovelace,ADA@example.com,(415) 555-0132,2026-03-15,Engines\n"
    "Grace Hopper,grace@example.com,not a phone,,Navy\n"
    "Alan Turing,alan@,,,\n"
    "Nobody,,,,\n"
    "Ada L,ada@example.com,,2026-04-01,\n"
    "Kurt,kurt@example.com,+1 212 555 0199,,\n"
)


def _job(workspace, text=CSV, name="people.csv", **confirm):
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(text.encode()), filename=name
    )
    import_job_set_mapping(
        job=job, mapping=confirm.pop("mapping", None), has_header=confirm.pop("has_header", True)
    )
    confirm.setdefault("group_name", "Imported")
    import_job_confirm(job=job, enqueue=False, **confirm)
    return job


def _run(job):
    return import_job_run(job_id=job.pk)


# --- mapping --------------------------------------------------------------------------------


def test_mapping_guess_synonyms_and_metadata_keys():
    headers = [
        "E-mail",
        "Cell",
        "Name",
        "Organization",
        "Appointment Date",
        "first_name",
        "Telefon",
    ]
    assert mapping_guess(headers) == {
        "E-mail": "email",
        "Cell": "phone",
        "Name": "full_name",
        "Organization": "company",
        "Appointment Date": "metadata:appointment_date",
        "first_name": "first_name",
        "Telefon": "metadata:telefon",  # phone is already taken by "Cell"
    }


def test_mapping_guess_name_is_first_name_when_a_last_name_column_exists():
    assert mapping_guess(["Name", "Surname", "Email"])["Name"] == "first_name"


def test_mapping_plan_missing_column_is_a_clear_error():
    with pytest.raises(ImportFileError, match="“Phone”"):
        mapping_plan({"Phone": "phone"}, ["Email"])


def test_mapping_plan_two_columns_to_one_field_is_an_error():
    with pytest.raises(ImportFileError, match="both mapped to Phone"):
        mapping_plan({"A": "phone", "B": "phone"}, ["A", "B"])


def test_mapping_plan_unknown_field_and_no_contact_method_are_errors():
    with pytest.raises(ImportFileError, match="not a contact field"):
        mapping_plan({"A": "shoe_size"}, ["A"])
    with pytest.raises(ImportFileError, match="Phone or Email"):
        mapping_plan({"A": "first_name"}, ["A"])


# --- a whole import -------------------------------------------------------------------------


def test_import_counts_validation_and_group_membership(workspace):
    existing = ContactFactory(
        workspace=workspace, email="kurt@example.com", phone="", first_name="K"
    )
    job = _run(_job(workspace))
    assert job.status == JobStatus.COMPLETED
    assert (job.total_rows, job.created, job.updated, job.duplicates, job.invalid) == (
        6,
        1,
        0,
        2,
        3,
    )
    ada = Contact.objects.get(workspace=workspace, phone="+14155550132")
    assert (ada.first_name, ada.last_name, ada.email, ada.company) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "Engines",
    )
    assert ada.metadata == {"appointment_date": "2026-03-15"}
    assert ada.timezone == "America/Los_Angeles" and ada.line_type
    group = ContactGroup.objects.get(workspace=workspace, name="Imported")
    members = set(group.memberships.values_list("contact_id", "source"))
    assert members == {(ada.pk, "import"), (existing.pk, "import")}  # skipped duplicates join too
    errors = {e["row"]: e["error"] for e in job.errors}
    assert errors == {
        3: "“not a phone” is not a phone number.",
        4: "“alan@” is not a valid email address.",
        5: "The row has neither a phone number nor an email address.",
    }


def test_import_duplicates_join_the_group_once_keeping_existing_memberships(workspace):
    group = ContactGroupFactory(workspace=workspace, name="Imported")
    member = ContactFactory(workspace=workspace, email="kurt@example.com", phone="")
    outsider = ContactFactory(workspace=workspace, email="ada@example.com", phone="")
    GroupMembership.objects.create(group=group, contact=member, source="manual")
    job = _run(_job(workspace))
    assert (job.created, job.duplicates) == (0, 3)
    members = set(group.memberships.values_list("contact_id", "source"))
    assert members == {(member.pk, "manual"), (outsider.pk, "import")}


def test_import_error_rows_csv_has_original_columns_and_error(workspace):
    job = _run(_job(workspace))
    rows = list(import_job_error_rows(job=job))
    assert rows[0] == [
        "Full Name",
        "E-mail Address",
        "Mobile",
        "Appointment Date",
        "Firma",
        "error",
    ]
    assert rows[1] == [
        "Grace Hopper",
        "grace@example.com",
        "not a phone",
        "",
        "Navy",
        "“not a phone” is not a phone number.",
    ]
    assert len(rows) == 4


def test_import_update_overwrites_non_empty_keeps_empty_and_merges_metadata(workspace):
    contact = ContactFactory(
        workspace=workspace,
        email="ada@example.com",
        phone="",
        company="Old",
        metadata={"vip": "yes"},
    )
    job = _run(_job(workspace, duplicate_strategy="update"))
    contact.refresh_from_db()
    # both Ada rows update the same contact: one contact updated, the second row a duplicate
    assert (job.updated, job.duplicates, job.created) == (1, 1, 1)
    assert contact.phone == "+14155550132"
    assert contact.company == "Engines"  # the second Ada row has no company: kept
    assert contact.metadata == {"vip": "yes", "appointment_date": "2026-04-01"}
    assert contact.first_name == "Ada" and contact.last_name == "L"


def test_import_update_merges_rows_of_the_file_into_the_new_contact(workspace):
    text = (
        "Name,Email,Company,Plan\n"
        "Ada,ada@example.com,Engines,gold\n"
        "Ada L,ada@example.com,,\n"
        "Bob,bob@example.com,,silver\n"
        "Bob B,bob@example.com,Acme,\n"
    )
    job = _run(_job(workspace, text, duplicate_strategy="update"))
    assert (job.created, job.updated, job.duplicates) == (2, 0, 2)  # contacts, not rows
    stored = {
        c.email: (c.first_name, c.last_name, c.company, c.metadata)
        for c in Contact.objects.filter(workspace=workspace)
    }
    assert stored == {
        "ada@example.com": ("Ada", "L", "Engines", {"plan": "gold"}),
        "bob@example.com": ("Bob", "B", "Acme", {"plan": "silver"}),
    }


def test_import_update_counts_contacts_across_batches(workspace, settings):
    # #14: "15 updated" for 13 contacts. Rows repeating a contact the import already updated
    # or created, in this batch or an earlier one, are duplicates; the counts add up to rows.
    settings.HERALD_IMPORT_BATCH_SIZE = 2
    ContactFactory(workspace=workspace, email="ada@example.com", phone="")
    ContactFactory(workspace=workspace, email="bob@example.com", phone="")
    text = "Name,Email\n" + "".join(
        f"{name},{name.lower()}@example.com\n"
        for name in ["Ada", "Bob", "Ada", "Cy", "Bob", "Cy", "Ada"]
    )
    job = _run(_job(workspace, text, duplicate_strategy="update"))
    assert (job.updated, job.created, job.duplicates, job.invalid) == (2, 1, 4, 0)
    assert job.updated + job.created + job.duplicates == job.total_rows == 7
    assert Contact.objects.filter(workspace=workspace).count() == 3


def test_import_new_rows_after_a_batch_of_duplicates_are_stored_whole(workspace, settings):
    settings.HERALD_IMPORT_BATCH_SIZE = 3
    for i in range(3):
        ContactFactory(workspace=workspace, email=f"old{i}@example.com", phone="")
    rows = [f"Old,old{i}@example.com,,x" for i in range(3)]
    rows += [f"New {i},new{i}@example.com,+1415555{1000 + i},note {i}" for i in range(4)]
    job = _run(_job(workspace, "Name,Email,Phone,Note\n" + "\n".join(rows)))
    assert (job.created, job.duplicates) == (4, 3)
    new = Contact.objects.filter(workspace=workspace, email__startswith="new").order_by("email")
    assert [(c.first_name, c.phone, c.metadata) for c in new] == [
        ("New", f"+1415555{1000 + i}", {"note": f"note {i}"}) for i in range(4)
    ]


def test_import_create_strategy_creates_duplicates_anyway(workspace):
    ContactFactory(workspace=workspace, email="ada@example.com")
    job = _run(_job(workspace, duplicate_strategy="create"))
    assert (job.created, job.duplicates) == (3, 0)
    assert Contact.objects.filter(workspace=workspace, email="ada@example.com").count() == 3


def test_import_other_workspace_contacts_never_match(workspace, other_workspace):
    ContactFactory(workspace=other_workspace, email="ada@example.com", phone="+14155550132")
    job = _run(_job(workspace))
    assert job.created == 2 and job.duplicates == 1


def test_import_rerun_is_a_no_op(workspace):
    job = _run(_job(workspace))
    before = Contact.objects.count(), GroupMembership.objects.count()
    again = import_job_run(job_id=job.pk)
    assert again.status == JobStatus.COMPLETED and again.created == job.created
    assert (Contact.objects.count(), GroupMembership.objects.count()) == before


def test_import_crash_leaves_whole_batches_and_resume_does_not_duplicate(
    workspace, settings, monkeypatch
):
    settings.HERALD_IMPORT_BATCH_SIZE = 10
    lines = ["Phone,Email"] + [f"+1415555{1000 + i},p{i}@example.com" for i in range(35)]
    job = _job(workspace, "\n".join(lines), duplicate_strategy="create")
    real_insert = writer_module.ContactWriter._insert
    calls = {"n": 0}

    def crash_on_third_batch(self, new):
        calls["n"] += 1
        real_insert(self, new)  # rows of the third batch are written, then the batch dies
        if calls["n"] == 3:
            raise RuntimeError("worker died")

    monkeypatch.setattr(writer_module.ContactWriter, "_insert", crash_on_third_batch)
    job = import_job_run(job_id=job.pk)
    assert job.status == JobStatus.FAILED and "internal error" in job.error_message
    job.refresh_from_db()
    assert job.rows_done == 20 and job.created == 20
    assert Contact.objects.filter(workspace=workspace).count() == 20  # no half batch
    monkeypatch.setattr(writer_module.ContactWriter, "_insert", real_insert)
    import_job_resume(job=job)
    job = import_job_run(job_id=job.pk)
    assert job.status == JobStatus.COMPLETED
    assert (job.rows_done, job.created) == (35, 35)
    assert Contact.objects.filter(workspace=workspace).count() == 35
    assert job.group.memberships.count() == 35


def test_import_refresh_marks_a_dead_running_job_failed(workspace):
    job = _job(workspace)
    # Dead on both backends: no worker holds the job's lock (PostgreSQL) and its last
    # heartbeat is long past (SQLite, which has no advisory locks).
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=now() - timedelta(hours=1)
    )
    job.refresh_from_db()
    job = import_job_refresh(job=job)
    assert job.status == JobStatus.FAILED
    assert "stopped unexpectedly" in job.error_message


# --- bad input ------------------------------------------------------------------------------


def test_import_empty_file_is_refused(workspace):
    with pytest.raises(ImportFileError, match="empty"):
        import_job_create(workspace=workspace, user=None, file=ContentFile(b""), filename="e.csv")


def test_import_header_only_fails_clearly_with_nothing_written(workspace):
    with pytest.raises(ImportFileError, match=r"header row \(Phone, Email\) but no contacts"):
        _job(workspace, "Phone,Email\n")
    assert Contact.objects.count() == 0 and not ContactGroup.objects.exists()


def test_import_over_size_limit_is_refused_before_storing(workspace, settings):
    settings.HERALD_IMPORT_MAX_BYTES = 100
    with pytest.raises(ImportTooLarge, match="largest import"):
        import_job_create(
            workspace=workspace, user=None, file=ContentFile(b"x" * 101), filename="big.csv"
        )
    assert ImportJob.objects.count() == 0


def test_import_over_row_limit_fails_before_any_write(workspace, settings):
    settings.HERALD_IMPORT_MAX_ROWS = 3
    job = _run(_job(workspace))
    assert job.status == JobStatus.FAILED and "more than 3 rows" in job.error_message
    assert Contact.objects.count() == 0 and job.rows_done == 0


def test_import_mapping_with_missing_column_is_refused(workspace):
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(CSV.encode()), filename="a.csv"
    )
    with pytest.raises(ImportFileError, match="does not have"):
        import_job_set_mapping(job=job, mapping={"Telephone": "phone"})
    job.refresh_from_db()
    assert job.mapping == {} and job.confirmed_at is None


def test_import_vcard_broken_card_is_one_invalid_row(workspace):
    cards = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nTEL;TYPE=CELL:+14155550101\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nGARBAGE WITHOUT COLON\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bob\r\nEMAIL;PREF=1:bob@example.com\r\nEND:VCARD\r\n"
    )
    job = _run(_job(workspace, cards, name="cards.vcf"))
    assert job.format == "vcard"
    assert (job.total_rows, job.created, job.invalid) == (3, 2, 1)
    assert job.errors[0]["row"] == 2


def test_import_xlsx_numeric_phone_cells(workspace, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Name", "Phone"])
    book.active.append(["Ann", 4155550101])
    path = tmp_path / "x.xlsx"
    book.save(path)
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(path.read_bytes()), filename="x.xlsx"
    )
    import_job_set_mapping(job=job, mapping=None)
    import_job_confirm(job=job, group_name="X", enqueue=False)
    job = _run(job)
    assert job.created == 1
    assert Contact.objects.get().phone == "+14155550101"


def test_import_preview_shows_stored_values_and_existing_matches(workspace):
    ContactFactory(workspace=workspace, email="kurt@example.com")
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(CSV.encode()), filename="a.csv"
    )
    import_job_set_mapping(job=job, mapping=None)
    _, rows = import_job_preview(job=job)
    assert len(rows) == 6
    assert (
        rows[0].values["email"] == "ada@example.com" and rows[0].values["last_name"] == "Lovelace"
    )
    assert rows[1].error == "“not a phone” is not a phone number."
    assert rows[5].match == "existing"


def test_import_confirm_rejects_foreign_group(workspace, other_workspace):
    from django.http import Http404

    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(CSV.encode()), filename="a.csv"
    )
    with pytest.raises(Http404):
        import_job_confirm(
            job=job, group=ContactGroupFactory(workspace=other_workspace), enqueue=False
        )


# --- command line ---------------------------------------------------------------------------


def test_import_contacts_command_prints_counts_json_last(workspace, tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    call_command("import_contacts", str(path), "--workspace", "acme", "--group", "CLI")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    counts = json.loads(last)
    names = ("total_rows", "created", "updated", "duplicates", "invalid")
    assert {k: counts[k] for k in names} == {
        "total_rows": 6, "created": 2, "updated": 0, "duplicates": 1, "invalid": 3,
    }  # fmt: skip
    assert ContactGroup.objects.get(workspace=workspace, name="CLI").memberships.count() == 2


def test_import_contacts_command_with_mapping_and_no_header(workspace, tmp_path, capsys):
    path = tmp_path / "raw.csv"
    path.write_text("Ann,+14155550101\nBob,+14155550102\n")
    mapping = json.dumps({"Column 1": "first_name", "Column 2": "phone"})
    call_command(
        "import_contacts",
        str(path),
        "--workspace",
        "acme",
        "--group",
        "G",
        "--mapping",
        mapping,
        "--no-header",
    )
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["created"] == 2
    assert set(Contact.objects.values_list("first_name", flat=True)) == {"Ann", "Bob"}


def test_import_pipelined_writer_failure_keeps_whole_batches(
    transactional_db, settings, monkeypatch
):
    """Outside a transaction (as in a worker) batches are written by a second thread."""
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory()
    settings.HERALD_IMPORT_BATCH_SIZE = 10
    lines = ["Phone,Email"] + [f"+1415555{1000 + i},p{i}@example.com" for i in range(35)]
    job = _job(workspace, "\n".join(lines), duplicate_strategy="create")
    real_insert = writer_module.ContactWriter._insert
    calls = {"n": 0, "threads": set()}

    def crash_on_third_batch(self, new):
        import threading

        calls["n"] += 1
        calls["threads"].add(threading.current_thread().name)
        real_insert(self, new)
        if calls["n"] == 3:
            raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module.ContactWriter, "_insert", crash_on_third_batch)
    job = import_job_run(job_id=job.pk)
    pipelined = connection.vendor == "postgresql"  # SQLite has one writer: no second thread
    assert calls["threads"] == {f"import-{job.pk}-writer" if pipelined else "MainThread"}
    assert job.status == JobStatus.FAILED
    job.refresh_from_db()
    assert (job.rows_done, job.created) == (20, 20)
    assert Contact.objects.filter(workspace=workspace).count() == 20
    monkeypatch.setattr(writer_module.ContactWriter, "_insert", real_insert)
    from contacts.tasks import import_contacts_task

    queued = []
    monkeypatch.setattr(import_contacts_task, "delay_on_commit", queued.append)
    import_job_resume(job=job)
    assert queued == [job.pk]
    import_contacts_task(job.pk)  # what the worker runs
    job.refresh_from_db()
    assert (job.status, job.created) == (JobStatus.COMPLETED, 35)
    assert Contact.objects.filter(workspace=workspace).count() == 35


def test_import_stores_awkward_characters_exactly(workspace):
    text = 'Name,Email,Note\n"Zoë \\\\ O\'Brien\tJr",zoe@example.com,"a\tb\\\\c\r\nd ""q"" é"\n'
    job = _run(_job(workspace, text))
    assert job.created == 1, job.errors
    zoe = Contact.objects.get(workspace=workspace)
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "\\\\ O'Brien Jr")  # names: spaces collapsed
    assert zoe.metadata == {"note": 'a\tb\\\\c\r\nd "q" é'}


def test_import_keeps_awkward_characters_of_skipped_rows_exactly(workspace):
    text = 'Name,Email,Note\n"Zoë \\ O\'Brien",zoe\\\t@x,"a\tb\\c\r\nd ""q"" é"\n'
    job = _run(_job(workspace, text))
    assert job.invalid == 1
    rows = list(import_job_error_rows(job=job))
    assert rows[1] == [
        "Zoë \\ O'Brien",
        "zoe\\\t@x",
        'a\tb\\c\r\nd "q" é',
        "“zoe\\\t@x” is not a valid email address.",
    ]


def test_import_skipped_row_with_a_nul_past_the_sniffed_head_is_stored_without_it(workspace):
    # The binary-file check reads only the head; PostgreSQL text and jsonb cannot hold NUL.
    padding = "".join(f"Person {i},p{i}@example.com,\n" for i in range(3000))
    text = f"Name,Email,Note\n{padding}No\x00body,,a\x00b\n"
    job = _run(_job(workspace, text))
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert (job.created, job.invalid) == (3000, 1)
    rows = list(import_job_error_rows(job=job))
    assert rows[1] == [
        "Nobody",
        "",
        "ab",
        "The row has neither a phone number nor an email address.",
    ]


def test_import_into_a_new_group_named_like_an_existing_one_uses_it(workspace):
    customers = ContactGroupFactory(workspace=workspace, name="Customers")
    job = _job(workspace, group_name="  customers ")
    _run(job)
    job.refresh_from_db()
    assert job.group == customers
    assert ContactGroup.objects.for_workspace(workspace).count() == 1
    assert customers.memberships.count() == job.created
