"""The import wizard over the test client, and the import API (I2, I5, A1, A3)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from contacts.importing import import_job_run
from contacts.models import Contact, ContactGroup, ImportJob, JobStatus
from tests.factories import ContactGroupFactory

CSV = (
    b"Name,Phone,Email,Appointment Date\n"
    b"Ada Lovelace,(415) 555-0132,ada@example.com,2026-03-15\n"
    b"Bad,xx,,\n"
)


def _upload(client, data=CSV, name="people.csv"):
    return client.post("/contacts/import/", {"file": SimpleUploadedFile(name, data)})


def test_wizard_upload_map_preview_confirm_progress_summary(client_logged_in, workspace):
    response = _upload(client_logged_in)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/contacts/import/{job.pk}/map/"
    page = client_logged_in.get(f"/contacts/import/{job.pk}/map/").content.decode()
    assert "Appointment Date" in page and "(415) 555-0132" in page
    assert '<option value="full_name" selected>' in page
    response = client_logged_in.post(
        f"/contacts/import/{job.pk}/map/",
        {
            "has_header": "1",
            "map-0": "full_name",
            "map-1": "phone",
            "map-2": "email",
            "map-3": "metadata",
            "custom-3": "visit",
        },
    )
    assert response["Location"] == f"/contacts/import/{job.pk}/preview/"
    page = client_logged_in.get(response["Location"]).content.decode()
    assert "Lovelace" in page and "+14155550132" in page and "“xx” is not a phone number." in page
    response = client_logged_in.post(
        f"/contacts/import/{job.pk}/preview/",
        {"group": "", "new_group": "Spring", "duplicate_strategy": "skip", "default_region": "US"},
    )
    assert response["Location"] == f"/contacts/import/{job.pk}/"
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.group.name == "Spring"
    page = client_logged_in.get(f"/contacts/import/{job.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page  # polls while it waits
    import_job_run(job_id=job.pk)
    fragment = client_logged_in.get(
        f"/contacts/import/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="import-progress"
    ).content.decode()
    assert "<html" not in fragment and "every 1s" not in fragment
    assert 'id="count-created">1<' in fragment and "Download skipped rows" in fragment
    assert Contact.objects.get().metadata == {"visit": "2026-03-15"}
    csv_text = b"".join(
        client_logged_in.get(f"/contacts/import/{job.pk}/skipped-rows.csv").streaming_content
    )
    assert csv_text.decode("utf-8-sig").splitlines() == [
        "Name,Phone,Email,Appointment Date,error",
        "Bad,xx,,,“xx” is not a phone number.",
    ]


def test_wizard_mapping_error_is_shown(client_logged_in):
    _upload(client_logged_in)
    job = ImportJob.objects.get()
    page = client_logged_in.post(
        f"/contacts/import/{job.pk}/map/",
        {"has_header": "1", "map-0": "phone", "map-1": "phone", "map-2": ""},
    ).content.decode()
    assert "both mapped to Phone" in page


def test_wizard_paste_and_existing_group(client_logged_in, workspace):
    group = ContactGroupFactory(workspace=workspace, name="Existing")
    client_logged_in.post("/contacts/import/", {"text": "email\nx@example.com\n"})
    job = ImportJob.objects.get()
    assert job.original_filename == "pasted.csv"
    client_logged_in.post(f"/contacts/import/{job.pk}/map/", {"has_header": "1", "map-0": "email"})
    client_logged_in.post(
        f"/contacts/import/{job.pk}/preview/",
        {"group": group.pk, "duplicate_strategy": "update", "default_region": "GB"},
    )
    job.refresh_from_db()
    assert (
        job.group == group
        and job.duplicate_strategy == "update"
        and job.options["default_region"] == "GB"
    )


def test_wizard_vcard_goes_straight_to_preview(client_logged_in):
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"
    response = _upload(client_logged_in, card, "ann.vcf")
    job = ImportJob.objects.get()
    response = client_logged_in.get(response["Location"])  # the file is read: no mapping step
    assert response["Location"] == f"/contacts/import/{job.pk}/preview/"
    assert "ann@example.com" in client_logged_in.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "e.csv", "Choose a file or paste some rows."),
        (bytes(range(256)) * 8, "g.csv", "This file is not text"),
        (b"PK\x03\x04junk", "x.xlsx", "damaged"),
    ],
)
def test_wizard_bad_upload_shows_clear_error(client_logged_in, data, name, message):
    response = client_logged_in.post(
        "/contacts/import/", {"file": SimpleUploadedFile(name, data)}, follow=True
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Contact.objects.exists()


def test_wizard_oversized_upload_is_413(client_logged_in, settings):
    settings.HERALD_IMPORT_MAX_BYTES = 10
    response = _upload(client_logged_in)
    assert response.status_code == 413 and "largest import" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_wizard_other_workspace_job_is_404(client_logged_in, other_workspace):
    job = ImportJob.objects.create(
        workspace=other_workspace, original_filename="x.csv", file="x.csv"
    )
    for url in ("", "map/", "preview/", "skipped-rows.csv"):
        assert client_logged_in.get(f"/contacts/import/{job.pk}/{url}").status_code == 404
    assert client_logged_in.post(f"/contacts/import/{job.pk}/resume/").status_code == 404


def test_wizard_sample_csv_imports_cleanly(client_logged_in, workspace):
    sample = client_logged_in.get("/contacts/import/sample.csv")
    assert sample["Content-Disposition"].startswith("attachment")
    _upload(client_logged_in, sample.content, "sample.csv")
    job = ImportJob.objects.get()
    choices = ["first_name", "last_name", "phone", "email", "company", "metadata"]
    client_logged_in.post(
        f"/contacts/import/{job.pk}/map/", {f"map-{i}": c for i, c in enumerate(choices)}
    )
    client_logged_in.post(
        f"/contacts/import/{job.pk}/preview/",
        {"new_group": "S", "duplicate_strategy": "skip", "default_region": "US"},
    )
    job = import_job_run(job_id=job.pk)
    assert (job.created, job.invalid) == (3, 0)


def test_wizard_requires_login():
    assert Client().get("/contacts/import/").status_code == 302


def test_contacts_page_has_import_button(client_logged_in):
    assert 'href="/contacts/import/"' in client_logged_in.get("/contacts/").content.decode()


# --- API ------------------------------------------------------------------------------------


def test_api_group_import_returns_job_and_status(api_client, workspace):
    group = ContactGroupFactory(workspace=workspace)
    response = api_client.post(
        f"/api/v1/campaigns/contact-groups/{group.pk}/import",
        {
            "file": SimpleUploadedFile("p.csv", CSV),
            "mapping": json.dumps(
                {"Name": "full_name", "Phone": "phone", "Email": "email", "Appointment Date": ""}
            ),
            "duplicate_strategy": "skip",
        },
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["contact_group_id"] == group.pk
    import_job_run(job_id=body["id"])
    status = api_client.get(f"/api/v1/imports/{body['id']}").json()
    names = ("status", "total_rows", "created", "updated", "duplicates", "invalid")
    assert [status[k] for k in names] == ["completed", 2, 1, 0, 0, 1]
    assert status["errors"] == [{"row": 3, "error": "“xx” is not a phone number."}]
    assert Contact.objects.get().metadata == {}


def test_api_group_import_bad_mapping_and_oversize(api_client, workspace, settings):
    group = ContactGroupFactory(workspace=workspace)
    url = f"/api/v1/campaigns/contact-groups/{group.pk}/import"
    response = api_client.post(
        url, {"file": SimpleUploadedFile("p.csv", CSV), "mapping": '{"Nope": "phone"}'}
    )
    # the file is read by the import's worker: the mapping is checked against it there
    assert response.status_code == 202
    import_job_run(job_id=response.json()["id"])
    status = api_client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert status["status"] == "failed" and "“Nope”" in status["error_message"]
    assert not Contact.objects.exists()
    response = api_client.post(url, {"file": SimpleUploadedFile("p.csv", CSV), "mapping": "{"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    settings.HERALD_IMPORT_MAX_BYTES = 10
    response = api_client.post(url, {"file": SimpleUploadedFile("p.csv", CSV)})
    assert response.status_code == 413 and "largest import" in response.json()["message"]


def test_api_two_step_upload_and_confirm(api_client, workspace):
    response = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("p.csv", CSV)}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["headers"] == ["Name", "Phone", "Email", "Appointment Date"]
    assert body["sample_rows"][0]["Email"] == "ada@example.com"
    assert body["mapping"]["Phone"] == "phone"
    response = api_client.post(
        "/api/v1/contacts/mapped/file",
        {"upload_id": body["upload_id"], "mapping": body["mapping"], "group_name": "API"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    job = import_job_run(job_id=response.json()["id"])
    assert job.created == 1 and ContactGroup.objects.get(name="API").memberships.count() == 1


def test_api_two_step_vcard(api_client, workspace):
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nTEL:+14155550101\r\nEND:VCARD\r\n"
    assert (
        api_client.post(
            "/api/v1/contacts/upload", {"file": SimpleUploadedFile("a.vcf", card)}
        ).status_code
        == 400
    )
    body = api_client.post(
        "/api/v1/contacts/upload/vcard", {"file": SimpleUploadedFile("a.vcf", card)}
    ).json()
    assert body["sample_rows"] == [
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": "+14155550101",
            "email": "",
            "company": "",
            "note": "",
        }
    ]
    response = api_client.post(
        "/api/v1/contacts/mapped/vcard",
        {"upload_id": body["upload_id"], "group_name": "Cards"},
        content_type="application/json",
    )
    assert response.status_code == 202
    assert import_job_run(job_id=response.json()["id"]).created == 1


def test_api_imports_are_workspace_scoped(api_client, other_workspace):
    job = ImportJob.objects.create(
        workspace=other_workspace, original_filename="x.csv", file="x.csv"
    )
    group = ContactGroupFactory(workspace=other_workspace)
    assert api_client.get(f"/api/v1/imports/{job.pk}").status_code == 404
    response = api_client.post(
        f"/api/v1/campaigns/contact-groups/{group.pk}/import",
        {"file": SimpleUploadedFile("p.csv", CSV)},
    )
    assert response.status_code == 404
    response = api_client.post(
        "/api/v1/contacts/mapped/file",
        {"upload_id": job.pk, "group_name": "x"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert Client().get(f"/api/v1/imports/{job.pk}").status_code == 401


def test_wizard_unknown_region_is_refused(client_logged_in):
    _upload(client_logged_in)
    job = ImportJob.objects.get()
    client_logged_in.post(
        f"/contacts/import/{job.pk}/map/", {"map-0": "full_name", "map-1": "phone"}
    )
    page = client_logged_in.post(
        f"/contacts/import/{job.pk}/preview/",
        {"new_group": "X", "duplicate_strategy": "skip", "default_region": "ZZ"},
    ).content.decode()
    assert "“ZZ” is not a country code" in page
    job.refresh_from_db()
    assert job.confirmed_at is None and not ContactGroup.objects.filter(name="X").exists()
