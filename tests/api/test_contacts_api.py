from django.utils.timezone import now

from contacts.models import Contact, ContactEvent, GroupMembership, Tag
from tests.factories import ContactFactory, ContactGroupFactory

URL = "/api/v1/contacts"


def test_contact_list_returns_items_and_count(api_client, workspace, contact):
    ContactFactory(workspace=workspace, first_name="Bob", email="bob@example.com")

    response = api_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["count_capped"] is False
    assert {item["first_name"] for item in body["items"]} == {"Jane", "Bob"}
    jane = next(item for item in body["items"] if item["first_name"] == "Jane")
    assert set(jane) == {
        "id", "first_name", "last_name", "email", "phone", "company", "timezone", "carrier",
        "line_type", "is_valid", "status", "opt_out_reason", "opted_out_at", "metadata",
        "tags", "group_ids", "created_at", "updated_at", "click_count", "last_clicked_at",
        "conversion_count", "revenue_total", "last_revenue_at",
    }  # fmt: skip
    assert jane["group_ids"] == [contact.memberships.get().group_id]
    assert jane["status"] == "active"


def test_contact_list_paginates_with_limit_and_offset(api_client, workspace):
    for n in range(5):
        ContactFactory(workspace=workspace, email=f"p{n}@example.com")

    first = api_client.get(URL, {"limit": 2}).json()
    third = api_client.get(URL, {"limit": 2, "offset": 4}).json()

    assert len(first["items"]) == 2 and first["count"] == 5
    assert len(third["items"]) == 1


def test_contact_list_count_is_capped(api_client, workspace, settings):
    settings.HERALD_API_COUNT_CAP = 3
    for n in range(5):
        ContactFactory(workspace=workspace, email=f"c{n}@example.com")

    body = api_client.get(URL, {"limit": 1}).json()

    assert body["count"] == 3
    assert body["count_capped"] is True


def test_contact_list_filters(api_client, workspace, contact, group):
    other = ContactFactory(workspace=workspace, first_name="Bob", email="", phone="+12025550143")
    other.tags.add(Tag.objects.create(workspace=workspace, name="vip"))
    Contact.objects.filter(pk=other.pk).update(
        status="opted_out", opt_out_reason="manual", opted_out_at=now()
    )

    def ids(**params):
        response = api_client.get(URL, params)
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    assert ids(search="jane") == [contact.pk]
    assert ids(group_id=group.pk) == [contact.pk]
    assert ids(status="opted_out") == [other.pk]
    assert ids(has_email="false") == [other.pk]
    assert ids(has_email="true") == [contact.pk]
    assert sorted(ids(has_phone="true")) == sorted([contact.pk, other.pk])
    assert ids(tag="vip") == [other.pk]
    assert ids(tag="no-such-tag") == []


def test_contact_list_rejects_bad_filter_values(api_client, contact):
    response = api_client.get(URL, {"status": "deleted", "limit": 0})

    assert response.status_code == 422
    assert {"status", "limit"} <= set(response.json()["errors"])


def test_contact_create_normalises_and_returns_201(api_client, workspace, group):
    response = api_client.post(
        URL,
        {
            "first_name": " Jane ",
            "email": "JANE@Example.com",
            "phone": "(415) 555-1234",
            "metadata": {"plan": "pro"},
            "tags": ["vip", "vip", "new"],
            "group_ids": [group.pk],
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["first_name"] == "Jane"
    assert body["email"] == "jane@example.com"
    assert body["phone"] == "+14155551234"
    assert body["timezone"] == "America/Los_Angeles"
    assert body["tags"] == ["new", "vip"]
    assert body["group_ids"] == [group.pk]
    assert GroupMembership.objects.get(contact_id=body["id"]).source == "api"


def test_contact_create_bad_phone_and_email_name_the_fields(api_client, workspace):
    response = api_client.post(
        URL, {"phone": "12", "email": "not-an-email"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"phone", "email"}
    assert not Contact.objects.exists()


def test_contact_create_without_phone_or_email_is_refused(api_client, workspace):
    response = api_client.post(URL, {"first_name": "Nobody"}, content_type="application/json")

    assert response.status_code == 400
    assert "__all__" in response.json()["errors"]


def test_contact_create_wrong_types_are_422(api_client, workspace):
    response = api_client.post(
        URL,
        {"email": "a@example.com", "tags": "x", "metadata": [1]},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert {"tags", "metadata"} <= set(response.json()["errors"])


def test_contact_create_ignores_mass_assigned_fields(api_client, workspace, other_workspace):
    response = api_client.post(
        URL,
        {
            "email": "mass@example.com",
            "id": 999999,
            "workspace": other_workspace.pk,
            "workspace_id": other_workspace.pk,
            "status": "opted_out",
            "opt_out_reason": "complaint",
            "carrier": "Evil",
            "line_type": "premium",
            "is_valid": False,
            "created_at": "2001-01-01T00:00:00Z",
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    contact = Contact.objects.get(email="mass@example.com")
    assert contact.workspace == workspace
    assert contact.pk != 999999
    assert contact.status == "active" and contact.opt_out_reason == ""
    assert contact.carrier == "" and contact.is_valid is True
    assert contact.created_at.year > 2001


def test_contact_xss_is_stored_as_data_and_returned_as_json(api_client, workspace):
    payload = "<script>alert(1)</script>"
    response = api_client.post(
        URL,
        {"first_name": payload, "email": "x@example.com", "metadata": {"note": payload}},
        content_type="application/json",
    )
    contact_id = response.json()["id"]

    detail = api_client.get(f"{URL}/{contact_id}")

    assert detail["Content-Type"] == "application/json; charset=utf-8"
    assert detail.json()["first_name"] == payload
    assert detail.json()["metadata"]["note"] == payload
    assert Contact.objects.get(pk=contact_id).first_name == payload


def test_contact_detail(api_client, contact):
    response = api_client.get(f"{URL}/{contact.pk}")

    assert response.status_code == 200
    assert response.json()["email"] == "jane@example.com"


def test_contact_detail_unknown_huge_or_non_integer_id_is_404(api_client, contact):
    assert api_client.get(f"{URL}/{contact.pk + 1000}").status_code == 404
    assert api_client.get(f"{URL}/{2**70}").status_code == 404
    assert api_client.get(f"{URL}/abc").json()["message"] == "Not found."


def test_contact_put_changes_sent_fields_and_ignores_status(api_client, contact):
    contact.metadata = {"old": 1}
    contact.save()

    response = api_client.put(
        f"{URL}/{contact.pk}",
        {"email": "new@example.com", "first_name": "Janet", "status": "opted_out"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert contact.first_name == "Janet"
    assert contact.email == "new@example.com"
    assert contact.metadata == {"old": 1}  # not sent: kept
    assert contact.status == "active"  # status is not set through PUT


def test_contact_patch_changes_only_sent_fields(api_client, contact):
    response = api_client.patch(
        f"{URL}/{contact.pk}",
        {"company": "Acme", "carrier": "Evil"},
        content_type="application/json",
    )

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.company == "Acme"
    assert contact.first_name == "Jane"
    assert contact.carrier != "Evil"


def test_contact_patch_bad_email_is_400_and_nothing_changes(api_client, contact):
    response = api_client.patch(
        f"{URL}/{contact.pk}",
        {"email": "bad", "status": "opted_out"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "email" in response.json()["errors"]
    contact.refresh_from_db()
    assert contact.status == "active"


def test_contact_patch_status_opts_out_manually_and_back_in(api_client, contact):
    out = api_client.patch(
        f"{URL}/{contact.pk}", {"status": "opted_out"}, content_type="application/json"
    )

    assert out.status_code == 200
    assert out.json()["status"] == "opted_out"
    assert out.json()["opt_out_reason"] == "manual"
    assert out.json()["opted_out_at"]

    back = api_client.patch(
        f"{URL}/{contact.pk}", {"status": "active"}, content_type="application/json"
    )

    assert back.json()["status"] == "active"
    assert back.json()["opt_out_reason"] == ""
    kinds = list(ContactEvent.objects.filter(contact=contact).values_list("kind", flat=True))
    assert {"opted_out", "opted_in"} <= set(kinds)


def test_contact_patch_unknown_status_is_422(api_client, contact):
    response = api_client.patch(
        f"{URL}/{contact.pk}", {"status": "deleted"}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "status" in response.json()["errors"]


def test_contact_delete_many(api_client, workspace, contact):
    keep = ContactFactory(workspace=workspace)

    response = api_client.delete(URL, {"ids": [contact.pk]}, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"deleted": 1}
    assert list(Contact.objects.values_list("pk", flat=True)) == [keep.pk]


def test_contact_delete_needs_ids(api_client, contact):
    response = api_client.delete(URL, {"ids": []}, content_type="application/json")

    assert response.status_code == 422
    assert "ids" in response.json()["errors"]


def test_contact_delete_with_an_unknown_id_deletes_nothing(api_client, contact):
    response = api_client.delete(
        URL, {"ids": [contact.pk, contact.pk + 1000]}, content_type="application/json"
    )

    assert response.status_code == 404
    assert "ids" in response.json()["errors"]
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_contact_list_unknown_group_is_404(api_client, workspace):
    group = ContactGroupFactory(workspace=workspace)
    response = api_client.get(URL, {"group_id": group.pk + 1000})

    assert response.status_code == 404
    assert "group_id" in response.json()["errors"]


def test_contact_list_count_by_group_counts_members_only(api_client, workspace, settings):
    settings.HERALD_API_COUNT_CAP = 2
    group = ContactGroupFactory(workspace=workspace)
    members = [ContactFactory(workspace=workspace, in_groups=[group]) for _ in range(2)]
    ContactFactory(workspace=workspace)

    exact = api_client.get(URL, {"group_id": group.pk}).json()
    ContactFactory(workspace=workspace, in_groups=[group])
    capped = api_client.get(URL, {"group_id": group.pk}).json()

    assert (exact["count"], exact["count_capped"]) == (2, False)
    assert sorted(item["id"] for item in exact["items"]) == sorted(m.pk for m in members)
    assert (capped["count"], capped["count_capped"]) == (2, True)
