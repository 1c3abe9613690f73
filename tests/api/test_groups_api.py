import csv
import io

from contacts.models import Contact, ContactGroup, ExportJob, GroupMembership
from tests.factories import ContactFactory, ContactGroupFactory

URL = "/api/v1/campaigns/contact-groups"


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_group_create(api_client, workspace):
    response = post(api_client, URL, {"name": "March Webinar", "description": "Attendees"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "description", "member_count", "created_at"}
    assert body["member_count"] == 0
    assert ContactGroup.objects.get(pk=body["id"]).workspace == workspace


def test_group_create_duplicate_name_is_409(api_client, group):
    response = post(api_client, URL, {"name": "leads"})

    assert response.status_code == 409
    assert "name" in response.json()["errors"]
    assert ContactGroup.objects.count() == 1


def test_group_create_same_name_as_another_workspace_is_fine(api_client, foreign_group):
    assert post(api_client, URL, {"name": foreign_group.name}).status_code == 201


def test_group_create_needs_a_name(api_client, workspace):
    missing = post(api_client, URL, {"description": "x"})
    blank = post(api_client, URL, {"name": "   "})

    assert missing.status_code == 422 and "name" in missing.json()["errors"]
    assert blank.status_code == 400 and "name" in blank.json()["errors"]


def test_group_list_with_member_counts(api_client, workspace, group, contact):
    ContactGroupFactory(workspace=workspace, name="Empty")

    body = api_client.get(URL).json()

    assert body["count"] == 2
    assert [(g["name"], g["member_count"]) for g in body["items"]] == [("Empty", 0), ("Leads", 1)]


def test_group_detail_patch_delete(api_client, group, contact):
    assert api_client.get(f"{URL}/{group.pk}").json()["member_count"] == 1

    patched = api_client.patch(
        f"{URL}/{group.pk}", {"description": "Hot"}, content_type="application/json"
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Leads" and patched.json()["description"] == "Hot"

    deleted = api_client.delete(f"{URL}/{group.pk}")
    assert deleted.status_code == 204
    assert not ContactGroup.objects.filter(pk=group.pk).exists()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_group_rename_to_a_taken_name_is_409(api_client, workspace, group):
    other = ContactGroupFactory(workspace=workspace, name="Customers")

    response = api_client.patch(
        f"{URL}/{other.pk}", {"name": "LEADS"}, content_type="application/json"
    )

    assert response.status_code == 409
    other.refresh_from_db()
    assert other.name == "Customers"


def test_group_contacts_add_creates_and_reports(api_client, group):
    response = post(
        api_client,
        f"{URL}/{group.pk}/contacts",
        {
            "contacts": [
                {
                    "first_name": "Jane",
                    "email": "jane@example.com",
                    "phone": "+14155551234",
                    "metadata": {"company": "Acme Corp", "plan": "enterprise"},
                },
                {"first_name": "John", "email": "john@example.com", "phone": "+14155555678"},
                {"first_name": "Bad", "phone": "12"},
            ]
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["duplicates"], body["invalid"]) == (2, 0, 0, 1)
    assert body["errors"] == [
        {"index": 2, "errors": {"phone": [body["errors"][0]["errors"]["phone"][0]]}}
    ]
    assert body["contact_ids"][2] is None
    members = GroupMembership.objects.filter(group=group)
    assert sorted(members.values_list("contact_id", flat=True)) == sorted(body["contact_ids"][:2])
    assert set(members.values_list("source", flat=True)) == {"api"}
    jane = Contact.objects.get(pk=body["contact_ids"][0])
    assert jane.metadata == {"company": "Acme Corp", "plan": "enterprise"}


def test_group_contacts_add_skips_duplicates_by_default(api_client, group, contact, workspace):
    other_group = ContactGroupFactory(workspace=workspace)

    response = post(
        api_client,
        f"{URL}/{other_group.pk}/contacts",
        {"contacts": [{"first_name": "Changed", "phone": "4155551234"}]},
    )

    body = response.json()
    assert (body["created"], body["duplicates"]) == (0, 1)
    assert body["contact_ids"] == [contact.pk]
    contact.refresh_from_db()
    assert contact.first_name == "Jane"
    assert GroupMembership.objects.filter(group=other_group, contact=contact).exists()


def test_group_contacts_add_rejects_unknown_strategy_and_empty_batch(api_client, group):
    bad = post(
        api_client,
        f"{URL}/{group.pk}/contacts",
        {"contacts": [{"email": "a@b.co"}], "duplicate_strategy": "merge"},
    )
    empty = post(api_client, f"{URL}/{group.pk}/contacts", {"contacts": []})

    assert bad.status_code == 422 and "duplicate_strategy" in bad.json()["errors"]
    assert empty.status_code == 422 and "contacts" in empty.json()["errors"]
    assert not Contact.objects.exists()


def test_group_contacts_remove(api_client, workspace, group, contact):
    outsider = ContactFactory(workspace=workspace)

    response = api_client.delete(
        f"{URL}/{group.pk}/contacts",
        {"contact_ids": [contact.pk, outsider.pk]},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {"count": 1}
    assert not GroupMembership.objects.filter(group=group).exists()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_group_contacts_move_and_copy(api_client, workspace, group, contact):
    target = ContactGroupFactory(workspace=workspace, name="Customers")
    third = ContactGroupFactory(workspace=workspace, name="VIP")

    moved = post(
        api_client,
        f"{URL}/{group.pk}/move",
        {"contact_ids": [contact.pk], "target_group_id": target.pk},
    )
    assert moved.status_code == 200 and moved.json() == {"count": 1}
    assert list(contact.memberships.values_list("group_id", flat=True)) == [target.pk]

    copied = post(
        api_client,
        f"{URL}/{target.pk}/copy",
        {"contact_ids": [contact.pk], "target_group_id": third.pk},
    )
    assert copied.status_code == 200 and copied.json() == {"count": 1}
    assert sorted(contact.memberships.values_list("group_id", flat=True)) == sorted(
        [target.pk, third.pk]
    )


def test_group_move_needs_target(api_client, group, contact):
    response = post(api_client, f"{URL}/{group.pk}/move", {"contact_ids": [contact.pk]})

    assert response.status_code == 422
    assert "target_group_id" in response.json()["errors"]


def test_group_export_streams_csv(api_client, workspace, group, contact):
    contact.metadata = {"plan": '=HYPERLINK("http://evil")'}
    contact.save()
    ContactFactory(workspace=workspace, email="outside@example.com")

    response = api_client.get(f"{URL}/{group.pk}/export")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["email"] for row in rows] == ["jane@example.com"]
    assert rows[0]["phone"] == "+14155551234"
    assert rows[0]["plan"].startswith("'=")


def test_group_export_over_sync_limit_starts_background_job(
    api_client, workspace, group, contact, settings
):
    settings.HERALD_EXPORT_SYNC_LIMIT = 0

    response = api_client.get(f"{URL}/{group.pk}/export")

    assert response.status_code == 202
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.workspace == workspace
    assert job.filters == {"group": str(group.pk)}
