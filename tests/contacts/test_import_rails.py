"""The import's safety rails of #14 §5: files that are not contacts, header-only files, a
headerless paste, the vCard NOTE, a column named like a field, the count of contacts."""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.importing import (
    ImportFileError,
    import_job_confirm,
    import_job_create,
    import_job_run,
    import_job_set_mapping,
)
from contacts.importing.mapping import mapping_plan
from contacts.models import Contact, ImportJob
from tests.factories import ContactGroupFactory

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("contacts.pdf", PDF, "a PDF document"),
        ("contacts.csv", PDF, "a PDF document"),  # by its content, whatever its name
        ("contacts.docx", b"PK\x03\x04" + b"\x00" * 64, "a Word document"),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "a JPEG image"),
    ],
)
def test_a_file_that_is_not_contacts_is_refused_at_upload(
    client_logged_in, media, name, data, what
):
    response = client_logged_in.post("/contacts/import/", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200
    page = response.content.decode()
    assert f"This file is {what}, not a list of contacts" in page and "CSV" in page
    assert not ImportJob.objects.exists()
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


def test_api_refuses_a_pdf_with_a_json_error(api_client, workspace):
    response = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("list.pdf", PDF)}
    )
    assert response.status_code == 400
    assert "This file is a PDF document" in response.json()["message"]
    group = ContactGroupFactory(workspace=workspace)
    response = api_client.post(
        f"/api/v1/campaigns/contact-groups/{group.pk}/import",
        {"file": SimpleUploadedFile("list.pdf", PDF)},
    )
    assert response.status_code == 400 and not ImportJob.objects.exists()


def test_vcard_note_is_kept_as_a_custom_field(workspace):
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nTEL:+14155550101\r\n"
        "NOTE:Met at the fair\\, wants a call\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo Ek\r\nEMAIL:bo@example.com\r\nEND:VCARD\r\n"
    )
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(card.encode()), filename="a.vcf"
    )
    import_job_set_mapping(job=job, mapping=None)
    assert job.mapping["note"] == "metadata:note"
    import_job_confirm(job=job, group_name="Cards", enqueue=False)
    assert import_job_run(job_id=job.pk).created == 2
    assert Contact.objects.get(phone="+14155550101").metadata == {
        "note": "Met at the fair, wants a call"
    }
    assert Contact.objects.get(email="bo@example.com").metadata == {}


def test_column_named_like_a_field_fills_it_when_the_mapping_leaves_it_out():
    headers = ["Name", "Phone", "company", "Plan"]
    plan = mapping_plan({"Name": "full_name", "Phone": "phone"}, headers)
    assert plan.mapping == {
        "Name": "full_name",
        "Phone": "phone",
        "company": "company",
        "Plan": "metadata:plan",
    }
    # a field the mapping fills from another column stays that column's: metadata, as before
    plan = mapping_plan({"Phone": "phone", "Firm": "company"}, ["Phone", "Firm", "Company"])
    assert plan.mapping["Company"] == "metadata:company_2"
    # a first_name column beside a mapped full name would clash: kept as metadata
    plan = mapping_plan({"Name": "full_name", "Phone": "phone"}, ["Name", "Phone", "first_name"])
    assert plan.mapping["first_name"].startswith("metadata:")


def test_api_explicit_mapping_fills_company_not_company_2(api_client, workspace):
    group = ContactGroupFactory(workspace=workspace)
    data = b"Name,Phone,company\nAda Lovelace,+14155550132,Analytical Engines\n"
    response = api_client.post(
        f"/api/v1/campaigns/contact-groups/{group.pk}/import",
        {
            "file": SimpleUploadedFile("p.csv", data),
            "mapping": json.dumps({"Name": "full_name", "Phone": "phone"}),
        },
    )
    assert response.status_code == 202
    import_job_run(job_id=response.json()["id"])
    ada = Contact.objects.get()
    assert (ada.company, ada.metadata) == ("Analytical Engines", {})


def test_upload_of_a_pdf_named_csv_keeps_nothing(workspace, media):
    with pytest.raises(ImportFileError, match="PDF"):
        import_job_create(workspace=workspace, user=None, file=ContentFile(PDF), filename="a.csv")
    assert not ImportJob.objects.exists()


# --- header-only files, headerless pastes, the default country ------------------------------


def test_header_only_file_is_a_clear_message_and_cannot_start(
    client_logged_in, api_client, workspace
):
    response = client_logged_in.post(
        "/contacts/import/",
        {"file": SimpleUploadedFile("h.csv", b"Name,Phone,Email\n")},
        follow=True,
    )
    page = response.content.decode()
    assert "The file has a header row (Name, Phone, Email) but no contacts under it" in page
    job = ImportJob.objects.get()
    with pytest.raises(ImportFileError, match="no contacts under it"):
        import_job_confirm(job=job, group_name="Empty")
    body = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("h.csv", b"Name,Phone\n")}
    ).json()
    assert body["status"] == "failed" and "no contacts under it" in body["error_message"]
    group = ContactGroupFactory(workspace=workspace)
    response = api_client.post(
        f"/api/v1/campaigns/contact-groups/{group.pk}/import",
        {"file": SimpleUploadedFile("h.csv", b"Name,Phone\n")},
    )
    job = import_job_run(job_id=response.json()["id"])
    assert job.status == "failed" and "no contacts under it" in job.error_message
    assert not Contact.objects.exists()


PASTE = "Ada Lovelace,+14155550132,ada@example.com\nGrace Hopper,(212) 555-0199,grace@example.com\n"


def test_headerless_paste_reads_the_first_row_as_data_and_says_so(client_logged_in, workspace):
    response = client_logged_in.post("/contacts/import/", {"text": PASTE}, follow=True)
    page = response.content.decode()
    assert "The first row holds a phone number or an email address" in page
    assert '<option value="0" selected>is data (no header)</option>' in page
    job = ImportJob.objects.get()
    assert job.options["has_header"] is False and job.options["header_guessed"] is True
    # its phone and email columns are guessed from their values
    assert 'aria-label="Import “Column 2” as"' in page
    import_job_set_mapping(job=job, mapping=None)
    assert (job.mapping["Column 2"], job.mapping["Column 3"]) == ("phone", "email")
    import_job_confirm(job=job, group_name="Pasted", enqueue=False)
    job = import_job_run(job_id=job.pk)
    assert (job.created, job.invalid) == (2, 0)
    assert Contact.objects.get(email="ada@example.com").phone == "+14155550132"


def test_a_real_header_row_is_kept_and_a_chosen_header_is_never_overridden(
    client_logged_in, workspace
):
    client_logged_in.post("/contacts/import/", {"text": "Name,Phone\nAda,+14155550132\n"})
    job = ImportJob.objects.get()
    assert job.options["has_header"] is True and not job.options["header_guessed"]
    client_logged_in.post("/contacts/import/", {"text": PASTE})
    pasted = ImportJob.objects.latest("pk")
    client_logged_in.post(
        f"/contacts/import/{pasted.pk}/map/", {"action": "options", "has_header": "1"}
    )
    pasted.refresh_from_db()
    assert pasted.options["has_header"] is True and pasted.options["headers"][1] == "+14155550132"


def test_api_headerless_upload_says_has_header_false(api_client, workspace):
    body = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("p.csv", PASTE.encode())}
    ).json()
    assert body["status"] == "ready" and body["has_header"] is False
    assert body["mapping"]["Column 2"] == "phone" and body["mapping"]["Column 3"] == "email"
    response = api_client.post(
        "/api/v1/contacts/mapped/file",
        {"upload_id": body["upload_id"], "group_name": "API"},
        content_type="application/json",
    )
    assert response.status_code == 202
    assert import_job_run(job_id=body["upload_id"]).created == 2


def test_changing_the_default_country_reruns_the_preview(client_logged_in, workspace):
    client_logged_in.post("/contacts/import/", {"text": "Name,Phone\nAda,07911 123456\n"})
    job = ImportJob.objects.get()
    client_logged_in.post(
        f"/contacts/import/{job.pk}/map/", {"map-0": "full_name", "map-1": "phone"}
    )
    page = client_logged_in.get(f"/contacts/import/{job.pk}/preview/").content.decode()
    assert 'hx-get="/contacts/import/' in page and 'hx-target="#preview-rows"' in page
    assert "+447911123456" not in page  # read as a US number: not valid
    fragment = client_logged_in.get(
        f"/contacts/import/{job.pk}/preview/?default_region=GB",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="preview-rows",
    ).content.decode()
    assert "<html" not in fragment and 'id="preview-rows"' in fragment
    assert "+447911123456" in fragment and "Skipped" not in fragment
    job.refresh_from_db()
    assert job.options["default_region"] == "US"  # a preview changes nothing stored
    page = client_logged_in.get(f"/contacts/import/{job.pk}/preview/?default_region=ZZ")
    assert page.status_code == 200  # an unknown country is ignored
