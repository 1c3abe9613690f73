import csv
import io

import pytest
from django.core.management import call_command

from contacts import export
from contacts.export import FIELDS, export_job_run, export_to_file
from contacts.models import Contact, ExportJob, JobStatus
from contacts.services import clean_contact_data, contact_create, contacts_add_tag
from tests.core.test_csv import GOLDEN
from tests.factories import ContactFactory, ContactGroupFactory, WorkspaceFactory


def _rows(queryset, bom=False):
    buffer = io.StringIO(newline="")
    export_to_file(queryset, buffer, bom=bom)
    return list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))


def test_export_header_and_metadata_columns(workspace):
    group = ContactGroupFactory(workspace=workspace, name="VIP")
    contact = ContactFactory(
        workspace=workspace,
        first_name="Ada",
        metadata={"plan": "pro", "Appointment Date": "2026-01-02"},
        in_groups=[group],
    )
    ContactFactory(workspace=workspace, metadata={"city": "Paris"})
    rows = _rows(Contact.objects.for_workspace(workspace))
    header = rows[0]
    assert header[:8] == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "timezone",
        "status",
        "opt_out_reason",
    ]
    assert header == [*FIELDS, "Appointment Date", "city", "plan"]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    ada = by_name["Ada"]
    assert ada["phone"] == contact.phone
    assert ada["plan"] == "pro" and ada["city"] == "" and ada["groups"] == "VIP"
    assert ada["status"] == "active"


def test_export_metadata_key_named_like_a_field_gets_its_own_column(workspace):
    ContactFactory(workspace=workspace, company="Globex", metadata={"company": "Acme Corp"})
    header, row = _rows(Contact.objects.for_workspace(workspace))
    assert len(header) == len(set(header))
    values = dict(zip(header, row, strict=True))
    assert (values["company"], values["metadata:company"]) == ("Globex", "Acme Corp")


def test_export_neutralises_every_golden_payload_in_every_column(workspace):
    metadata = {f"m{i}": value for i, (value, _) in enumerate(GOLDEN)}
    for value, _expected in GOLDEN:
        if not value:
            continue
        ContactFactory(
            workspace=workspace,
            first_name=value[:100],
            company=value,
            metadata=metadata,
        )
    rows = _rows(Contact.objects.for_workspace(workspace))
    header = rows[0]
    expected_by_value = dict(GOLDEN)
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=True))
        assert cells["first_name"] == cells["company"]
        for i, (_, expected) in enumerate(GOLDEN):
            assert cells[f"m{i}"] == expected
    assert {r[header.index("company")] for r in rows[1:]} == {
        expected_by_value[v] for v, _ in GOLDEN if v
    }


def test_export_only_contains_the_given_workspace(workspace, other_workspace):
    ContactFactory(workspace=workspace, first_name="Mine")
    ContactFactory(workspace=other_workspace, first_name="Theirs", metadata={"secret": "x"})
    rows = _rows(Contact.objects.for_workspace(workspace))
    assert [r[0] for r in rows[1:]] == ["Mine"]
    assert "secret" not in rows[0]


def test_export_e164_round_trip(workspace):
    phones = ["+14155550134", "+33612345678", "+4915123456789", "+61412345678"]
    for i, phone in enumerate(phones):
        contact_create(workspace=workspace, data={"first_name": f"P{i}", "phone": phone})
    rows = _rows(Contact.objects.for_workspace(workspace))
    header = rows[0]
    exported = sorted(r[header.index("phone")] for r in rows[1:])
    assert exported == sorted(phones)
    # Re-importing each exported row gives the same number back, unchanged.
    target = WorkspaceFactory()
    for row in rows[1:]:
        data = dict(zip(header[:6], row[:6], strict=True))
        assert clean_contact_data(workspace=target, data=data)["phone"] == data["phone"]


def test_export_contacts_command_writes_a_group(workspace, tmp_path):
    group = ContactGroupFactory(workspace=workspace, name="Leads")
    ContactFactory(workspace=workspace, first_name="In", in_groups=[group])
    ContactFactory(workspace=workspace, first_name="Out")
    path = tmp_path / "out.csv"
    call_command("export_contacts", workspace="acme", group="Leads", output=str(path))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("first_name,last_name,email,phone,company,timezone,status,")
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in rows[1:]] == ["In"]


def test_export_contacts_command_rejects_unknown_workspace_or_group(workspace, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("export_contacts", workspace="nope", output=str(tmp_path / "x.csv"))
    with pytest.raises(CommandError):
        call_command(
            "export_contacts", workspace="acme", group="nope", output=str(tmp_path / "x.csv")
        )


def test_export_job_run_writes_file_once(workspace, other_workspace):
    ContactFactory.create_batch(3, workspace=workspace, company="=evil()")
    ContactFactory(workspace=other_workspace)
    job = ExportJob.objects.create(workspace=workspace, filters={})
    export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.row_count == 3
    text = job.file.read().decode("utf-8-sig")
    assert text.count("'=evil()") == 3
    name = job.file.name
    export_job_run(job_id=job.pk)  # a redelivered task does nothing
    job.refresh_from_db()
    assert job.file.name == name


def test_export_job_failure_is_recorded(workspace, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "export_to_file", boom)
    job = ExportJob.objects.create(workspace=workspace, filters={})
    export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "disk full" in job.error_message


def test_export_reads_in_chunks_without_losing_or_repeating_rows(workspace, monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 2)
    group = ContactGroupFactory(workspace=workspace, name="G")
    contacts = ContactFactory.create_batch(5, workspace=workspace, in_groups=[group])
    contacts_add_tag(workspace=workspace, contact_ids=[contacts[4].pk], name="vip")
    rows = _rows(Contact.objects.for_workspace(workspace))
    header = rows[0]
    assert sorted(r[header.index("email")] for r in rows[1:]) == sorted(c.email for c in contacts)
    assert {r[header.index("groups")] for r in rows[1:]} == {"G"}
    assert [r[header.index("tags")] for r in rows[1:]].count("vip") == 1
