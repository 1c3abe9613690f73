"""W2/A6: another workspace's id anywhere — path, query or body — is a 404 and changes nothing."""

import pytest

from contacts.export import export_job_run
from contacts.models import Contact, ContactGroup, ExportJob, GroupMembership, Tag
from tests.factories import ContactGroupFactory

G = "/api/v1/campaigns/contact-groups"

# (method, url, body): {c} own contact, {g} own group, {fc}/{fg}/{fj} the other workspace's.
CASES = [
    ("get", "/api/v1/contacts/{fc}", None),
    ("put", "/api/v1/contacts/{fc}", {"email": "hijack@example.com"}),
    ("patch", "/api/v1/contacts/{fc}", {"status": "opted_out"}),
    ("patch", "/api/v1/contacts/{fc}", {"first_name": "Hijacked"}),
    ("delete", "/api/v1/contacts", {"ids": ["{fc}"]}),
    ("delete", "/api/v1/contacts", {"ids": ["{c}", "{fc}"]}),
    ("get", "/api/v1/contacts?group_id={fg}", None),
    ("post", "/api/v1/contacts", {"email": "new@example.com", "group_ids": ["{fg}"]}),
    ("get", G + "/{fg}", None),
    ("patch", G + "/{fg}", {"name": "Hijacked"}),
    ("delete", G + "/{fg}", None),
    ("post", G + "/{fg}/contacts", {"contacts": [{"email": "new@example.com"}]}),
    ("delete", G + "/{fg}/contacts", {"contact_ids": ["{fc}"]}),
    ("delete", G + "/{g}/contacts", {"contact_ids": ["{c}", "{fc}"]}),
    ("post", G + "/{fg}/move", {"contact_ids": ["{fc}"], "target_group_id": "{g}"}),
    ("post", G + "/{g}/move", {"contact_ids": ["{c}"], "target_group_id": "{fg}"}),
    ("post", G + "/{g}/move", {"contact_ids": ["{c}", "{fc}"], "target_group_id": "{g2}"}),
    ("post", G + "/{fg}/copy", {"contact_ids": ["{fc}"], "target_group_id": "{g}"}),
    ("post", G + "/{g}/copy", {"contact_ids": ["{c}"], "target_group_id": "{fg}"}),
    ("post", G + "/{g}/copy", {"contact_ids": ["{fc}"], "target_group_id": "{g2}"}),
    ("get", G + "/{fg}/export", None),
    ("post", "/api/v1/exports/contacts", {"ids": ["{fc}"]}),
    ("post", "/api/v1/exports/contacts", {"group_id": "{fg}"}),
    ("get", "/api/v1/exports/{fj}", None),
    ("get", "/api/v1/exports/{fj}/download", None),
]


def snapshot():
    return {
        "contacts": list(Contact.objects.order_by("pk").values()),
        "groups": list(ContactGroup.objects.order_by("pk").values()),
        "memberships": list(GroupMembership.objects.order_by("pk").values()),
        "tags": list(Tag.objects.order_by("pk").values()),
        "exports": list(ExportJob.objects.order_by("pk").values("pk", "status", "workspace")),
    }


def fill(value, ids):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def ids(workspace, contact, group, foreign_contact, foreign_group, other_workspace):
    job = ExportJob.objects.create(workspace=other_workspace, filters={})
    export_job_run(job_id=job.pk)
    second = ContactGroupFactory(workspace=workspace, name="Second")
    return {
        "c": contact.pk,
        "g": group.pk,
        "g2": second.pk,
        "fc": foreign_contact.pk,
        "fg": foreign_group.pk,
        "fj": job.pk,
    }


@pytest.mark.parametrize(
    ("method", "url", "body"), CASES, ids=[f"{m} {u} {b}" for m, u, b in CASES]
)
def test_foreign_ids_are_404_and_change_nothing(api_client, ids, method, url, body):
    before = snapshot()
    kwargs = {"content_type": "application/json", "data": fill(body, ids)} if body else {}

    response = getattr(api_client, method)(fill(url, ids), **kwargs)

    assert response.status_code == 404, response.content
    assert response.json()["message"] == "Not found."
    assert snapshot() == before


def test_lists_show_only_the_workspace(api_client, contact, group, foreign_contact, foreign_group):
    contacts = api_client.get("/api/v1/contacts").json()
    groups = api_client.get(G).json()

    assert [c["id"] for c in contacts["items"]] == [contact.pk]
    assert contacts["count"] == 1
    assert [g["id"] for g in groups["items"]] == [group.pk]


def test_search_does_not_reach_other_workspaces(api_client, contact, foreign_contact):
    body = api_client.get("/api/v1/contacts", {"search": "eve@"}).json()

    assert body["items"] == [] and body["count"] == 0


def test_other_workspace_key_sees_its_own_data_only(other_api_client, contact, foreign_contact):
    assert other_api_client.get(f"/api/v1/contacts/{contact.pk}").status_code == 404
    assert other_api_client.get(f"/api/v1/contacts/{foreign_contact.pk}").status_code == 200
