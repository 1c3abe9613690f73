"""Seed 002's contact-list endpoints over groups: GET/POST /contacts/list, POST and DELETE
/contacts/list/contacts (many contacts, many lists, one request) and
GET /contacts/list/{id}/contacts."""

import json

from contacts.models import GroupMembership
from tests.factories import ContactFactory, ContactGroupFactory, WorkspaceFactory

URL = "/api/v1/contacts/list"


def send(client, method, url, data):
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def test_create_and_list_lists(api_client, workspace):
    response = send(api_client, "post", URL, {"name": "VIP", "description": "Best customers"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "VIP" and created["member_count"] == 0
    assert send(api_client, "post", URL, {"name": "vip"}).status_code == 409
    listing = api_client.get(URL).json()
    assert listing["count"] == 1 and listing["items"][0]["id"] == created["id"]
    assert api_client.get(URL, {"limit": 1, "offset": 1}).json()["items"] == []


def test_add_and_remove_many_contacts_in_many_lists(api_client, workspace):
    lists = [ContactGroupFactory(workspace=workspace, name=n) for n in ("A", "B")]
    contacts = [ContactFactory(workspace=workspace) for _ in range(3)]
    body = {"contact_ids": [c.pk for c in contacts], "list_ids": [g.pk for g in lists]}
    response = send(api_client, "post", f"{URL}/contacts", body)
    assert response.status_code == 200 and response.json() == {"count": 6}
    assert send(api_client, "post", f"{URL}/contacts", body).json() == {"count": 0}
    assert GroupMembership.objects.filter(group__in=lists).count() == 6
    assert {m.source for m in GroupMembership.objects.all()} == {"api"}

    remove = {"contact_ids": [contacts[0].pk], "list_ids": [g.pk for g in lists]}
    response = send(api_client, "delete", f"{URL}/contacts", remove)
    assert response.status_code == 200 and response.json() == {"count": 2}
    assert GroupMembership.objects.count() == 4
    contacts[0].refresh_from_db()  # the contact itself stays


def test_unknown_or_foreign_ids_change_nothing(api_client, workspace):
    group = ContactGroupFactory(workspace=workspace)
    mine = ContactFactory(workspace=workspace)
    foreign = ContactFactory(workspace=WorkspaceFactory())
    foreign_list = ContactGroupFactory(workspace=foreign.workspace)
    for body, field in (
        ({"contact_ids": [mine.pk, foreign.pk], "list_ids": [group.pk]}, "contact_ids"),
        ({"contact_ids": [mine.pk], "list_ids": [group.pk, foreign_list.pk]}, "list_ids"),
    ):
        response = send(api_client, "post", f"{URL}/contacts", body)
        assert response.status_code == 404 and field in response.json()["errors"]
    assert not GroupMembership.objects.exists()
    assert send(api_client, "post", f"{URL}/contacts", {"contact_ids": []}).status_code == 422


def test_browse_a_lists_contacts_paginated(api_client, workspace):
    group = ContactGroupFactory(workspace=workspace)
    members = [ContactFactory(workspace=workspace, in_groups=[group]) for _ in range(3)]
    ContactFactory(workspace=workspace)  # not in the list
    page = api_client.get(f"{URL}/{group.pk}/contacts", {"limit": 2}).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    rest = api_client.get(f"{URL}/{group.pk}/contacts", {"limit": 2, "offset": 2}).json()
    seen = {c["id"] for c in page["items"] + rest["items"]}
    assert seen == {c.pk for c in members}
    foreign = ContactGroupFactory(workspace=WorkspaceFactory())
    assert api_client.get(f"{URL}/{foreign.pk}/contacts").status_code == 404
    assert api_client.get(f"{URL}/abc/contacts").status_code == 404


def test_contacts_by_id_still_answer(api_client, workspace):
    contact = ContactFactory(workspace=workspace)
    assert api_client.get(f"/api/v1/contacts/{contact.pk}").json()["id"] == contact.pk
