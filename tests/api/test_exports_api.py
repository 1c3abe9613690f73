import csv
import io

from contacts.export import export_job_run
from contacts.models import ExportJob
from tests.factories import ContactFactory

URL = "/api/v1/exports"


def start(client, body):
    return client.post(f"{URL}/contacts", body, content_type="application/json")


def download_rows(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_start_status_and_download(
    api_client, workspace, group, contact, django_capture_on_commit_callbacks
):
    ContactFactory(workspace=workspace, email="outside@example.com")

    with django_capture_on_commit_callbacks() as callbacks:
        response = start(api_client, {"group_id": group.pk})

    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    assert response.json()["download_url"] is None
    assert len(callbacks) == 1  # the task is queued once the job is committed

    export_job_run(job_id=job_id)
    status = api_client.get(f"{URL}/{job_id}").json()

    assert status["status"] == "completed"
    assert status["row_count"] == 1
    assert status["download_url"].endswith(f"/api/v1/exports/{job_id}/download")
    rows = download_rows(api_client, status["download_url"])
    assert [row["email"] for row in rows] == ["jane@example.com"]


def test_export_of_listed_ids(api_client, workspace, contact):
    other = ContactFactory(workspace=workspace, email="b@example.com")

    response = start(api_client, {"ids": [other.pk]})
    export_job_run(job_id=response.json()["id"])

    rows = download_rows(api_client, f"{URL}/{response.json()['id']}/download")
    assert [row["email"] for row in rows] == ["b@example.com"]


def test_export_ids_narrowed_by_filters(api_client, workspace, contact):
    other = ContactFactory(workspace=workspace, email="b@example.com", first_name="Bob")

    response = start(api_client, {"ids": [contact.pk, other.pk], "search": "bob"})

    assert ExportJob.objects.get(pk=response.json()["id"]).contact_ids == [other.pk]


def test_export_unknown_tag_exports_nothing(api_client, contact):
    response = start(api_client, {"tag": "nope"})
    job_id = response.json()["id"]
    export_job_run(job_id=job_id)

    assert api_client.get(f"{URL}/{job_id}").json()["row_count"] == 0


def test_export_unknown_ids_are_404_and_start_nothing(api_client, contact):
    response = start(api_client, {"ids": [contact.pk, contact.pk + 1000]})

    assert response.status_code == 404
    assert "ids" in response.json()["errors"]
    assert not ExportJob.objects.exists()


def test_export_bad_filter_is_422(api_client, contact):
    response = start(api_client, {"status": "gone"})

    assert response.status_code == 422
    assert "status" in response.json()["errors"]
    assert not ExportJob.objects.exists()


def test_export_download_before_ready_is_409(api_client, contact):
    job_id = start(api_client, {}).json()["id"]

    response = api_client.get(f"{URL}/{job_id}/download")

    assert response.status_code == 409
    assert "waiting" in response.json()["message"]
