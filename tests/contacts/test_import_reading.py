"""An upload returns at once and a worker reads it (#13): the import page and the API show
"inspecting" until it is read, then the next step; re-reading after an option change."""

from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.importing import import_job_read, import_job_run
from contacts.models import Contact, ImportJob

CSV = b"Name,Phone\nAda Lovelace,+14155550132\n"


def test_upload_returns_before_reading_and_the_page_waits_for_the_worker(
    client_logged_in, uploads_held
):
    response = client_logged_in.post(
        "/contacts/import/", {"file": SimpleUploadedFile("p.csv", CSV)}
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"/contacts/import/{job.pk}/map/"
    assert uploads_held == [job.pk] and "headers" not in job.options  # nothing read yet
    page = client_logged_in.get(f"/contacts/import/{job.pk}/map/").content.decode()
    assert "Inspecting p.csv…" in page and 'hx-trigger="every 1s"' in page
    assert "Map columns" not in page
    poll = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "import-reading"}
    fragment = client_logged_in.get(f"/contacts/import/{job.pk}/map/", **poll)
    assert "<html" not in fragment.content.decode() and "every 1s" in fragment.content.decode()
    preview = client_logged_in.get(f"/contacts/import/{job.pk}/preview/")
    assert preview["Location"] == f"/contacts/import/{job.pk}/map/"  # not before it is read

    import_job_read(job_id=job.pk)  # the worker
    fragment = client_logged_in.get(f"/contacts/import/{job.pk}/map/", **poll)
    assert fragment["HX-Redirect"] == f"/contacts/import/{job.pk}/map/"
    page = client_logged_in.get(f"/contacts/import/{job.pk}/map/").content.decode()
    assert "Map columns" in page and "+14155550132" in page and "Inspecting" not in page


def test_a_file_that_cannot_be_read_stops_the_polling_with_the_reason(
    client_logged_in, uploads_held, workspace
):
    client_logged_in.post(
        "/contacts/import/", {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04junk")}
    )
    job = ImportJob.objects.get()
    import_job_read(job_id=job.pk)
    poll = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "import-reading"}
    poll = client_logged_in.get(f"/contacts/import/{job.pk}/map/", **poll)
    assert poll["HX-Redirect"] == f"/contacts/import/{job.pk}/map/"  # the page, whole
    page = client_logged_in.get(poll["HX-Redirect"]).content.decode()
    assert "<h1>This file could not be read</h1>" in page and "damaged" in page
    assert "every 1s" not in page
    assert 'href="/contacts/import/"' in page  # choose another file
    job.refresh_from_db()
    assert not job.file and not Contact.objects.exists()


def test_changing_the_header_row_reads_the_file_again(client_logged_in, uploads_held):
    data = b"Ada,Lovelace\nGrace,+12125550199\n"
    client_logged_in.post("/contacts/import/", {"file": SimpleUploadedFile("p.csv", data)})
    job = ImportJob.objects.get()
    import_job_read(job_id=job.pk)
    response = client_logged_in.post(
        f"/contacts/import/{job.pk}/map/", {"action": "options", "has_header": "0"}
    )
    assert response["Location"] == f"/contacts/import/{job.pk}/map/"
    assert uploads_held == [job.pk, job.pk]
    assert "Inspecting" in client_logged_in.get(response["Location"]).content.decode()
    import_job_read(job_id=job.pk)
    page = client_logged_in.get(response["Location"]).content.decode()
    assert "Column 1" in page and "Lovelace" in page


def test_other_workspace_cannot_see_or_change_the_reading(client_logged_in, other_workspace):
    job = ImportJob.objects.create(
        workspace=other_workspace, original_filename="x.csv", file="x.csv",
        options={"read": "inspecting"},
    )  # fmt: skip
    poll = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "import-reading"}
    assert client_logged_in.get(f"/contacts/import/{job.pk}/map/", **poll).status_code == 404
    response = client_logged_in.post(
        f"/contacts/import/{job.pk}/map/", {"action": "options", "has_header": "0"}
    )
    assert response.status_code == 404


def test_options_change_needs_csrf(user, uploads_held):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    job = ImportJob.objects.create(
        workspace=user.memberships.get().workspace, original_filename="x.csv", file="x.csv"
    )
    response = client.post(f"/contacts/import/{job.pk}/map/", {"action": "options"})
    assert response.status_code == 403 and uploads_held == []


def test_api_upload_has_a_status_to_poll(api_client, uploads_held):
    response = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("p.csv", CSV)}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "inspecting" and body["headers"] == [] and body["mapping"] == {}
    url = f"/api/v1/contacts/upload/{body['upload_id']}"
    assert api_client.get(url).json()["status"] == "inspecting"
    import_job_read(job_id=body["upload_id"])
    ready = api_client.get(url).json()
    assert ready["status"] == "ready" and ready["headers"] == ["Name", "Phone"]
    assert ready["sample_rows"] == [{"Name": "Ada Lovelace", "Phone": "+14155550132"}]
    assert ready["mapping"] == {"Name": "full_name", "Phone": "phone"}


def test_api_confirm_while_inspecting_reads_the_file_in_the_import(api_client, uploads_held):
    body = api_client.post(
        "/api/v1/contacts/upload", {"file": SimpleUploadedFile("p.csv", CSV)}
    ).json()
    response = api_client.post(
        "/api/v1/contacts/mapped/file",
        {"upload_id": body["upload_id"], "group_name": "Early"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    job = import_job_run(job_id=body["upload_id"])
    assert (job.status, job.created) == ("completed", 1)
    assert Contact.objects.get().phone == "+14155550132"


def test_api_upload_of_another_workspace_is_404(api_client, other_workspace):
    job = ImportJob.objects.create(
        workspace=other_workspace, original_filename="x.csv", file="x.csv"
    )
    assert api_client.get(f"/api/v1/contacts/upload/{job.pk}").status_code == 404
