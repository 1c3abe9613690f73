import json

import pytest

from audiences.models import SmartGroup
from contacts.models import ContactGroup, GroupMembership
from tests.factories import ContactFactory

URL = "/api/v1/smart-groups"
PRO = {"field": "metadata.plan", "op": "eq", "value": "pro"}


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def patch(client, url, body):
    return client.patch(url, body, content_type="application/json")


@pytest.fixture
def people(workspace, group):
    return [
        ContactFactory(workspace=workspace, metadata={"plan": "pro"}, in_groups=[group]),
        ContactFactory(workspace=workspace, metadata={"plan": "Pro"}),
        ContactFactory(workspace=workspace, metadata={"plan": "free"}, in_groups=[group]),
    ]


@pytest.fixture
def smart_group(api_client, people):
    return post(api_client, URL, {"name": "Pro plan", "conditions": [PRO]}).json()


def test_create_and_read_back_the_same_definition(api_client, workspace, group):
    body = {
        "name": "Pro leads",
        "match": "any",
        "conditions": [PRO, {"field": "replied", "op": "within_days", "value": 30}],
        "exclude_group_ids": [group.pk],
    }

    created = post(api_client, URL, body)

    assert created.status_code == 201
    out = created.json()
    assert {k: out[k] for k in body} == body
    assert SmartGroup.objects.get(pk=out["id"]).workspace == workspace
    assert api_client.get(f"{URL}/{out['id']}").json() == out
    assert api_client.get(URL).json() == {"items": [out], "count": 1}


def test_count_and_members(api_client, smart_group, people):
    count = api_client.get(f"{URL}/{smart_group['id']}/count")
    members = api_client.get(f"{URL}/{smart_group['id']}/contacts?limit=1")

    assert count.json() == {"count": 2}
    page = members.json()
    assert page["count"] == 2 and page["count_capped"] is False
    assert [c["id"] for c in page["items"]] == [people[1].pk]  # newest first, like /contacts
    assert page["items"][0]["metadata"] == {"plan": "Pro"}


def test_members_see_new_matches_at_once(api_client, smart_group, workspace):
    ContactFactory(workspace=workspace, metadata={"plan": "PRO"})

    assert api_client.get(f"{URL}/{smart_group['id']}/count").json() == {"count": 3}


def test_patch_changes_only_what_is_sent(api_client, smart_group, group):
    url = f"{URL}/{smart_group['id']}"

    renamed = patch(api_client, url, {"name": "Pros"})
    excluded = patch(api_client, url, {"exclude_group_ids": [group.pk]})

    assert renamed.status_code == 200 and renamed.json()["conditions"] == [PRO]
    assert excluded.json()["name"] == "Pros"
    assert api_client.get(f"{url}/count").json() == {"count": 1}


def test_delete_keeps_the_contacts(api_client, smart_group, people):
    assert api_client.delete(f"{URL}/{smart_group['id']}").status_code == 204
    assert not SmartGroup.objects.exists()
    assert api_client.get(f"{URL}/{smart_group['id']}").status_code == 404


def test_freeze_makes_a_static_group_of_the_current_members(api_client, smart_group, people):
    response = post(api_client, f"{URL}/{smart_group['id']}/freeze", {"name": "Pro snapshot"})

    assert response.status_code == 201
    group = ContactGroup.objects.get(pk=response.json()["id"])
    assert response.json()["member_count"] == 2
    members = GroupMembership.objects.filter(group=group)
    assert {m.contact_id for m in members} == {people[0].pk, people[1].pk}
    assert {m.source for m in members} == {"api"}


def test_freeze_with_a_taken_name_is_409_and_creates_nothing(api_client, smart_group, group):
    response = post(api_client, f"{URL}/{smart_group['id']}/freeze", {"name": group.name.upper()})

    assert response.status_code == 409
    assert ContactGroup.objects.count() == 1


def test_a_taken_name_is_409(api_client, smart_group):
    response = post(api_client, URL, {"name": "PRO PLAN", "conditions": []})

    assert response.status_code == 409
    assert "name" in response.json()["errors"]


@pytest.mark.parametrize(
    "condition,place,words",
    [
        ({"field": "shoe_size", "op": "eq", "value": "9"}, "conditions.0.field", "shoe_size"),
        ({"field": "email", "op": "gt", "value": "a"}, "conditions.0.op", "“gt” for email"),
        ({"field": "created_at", "op": "gt", "value": 5}, "conditions.0.value", "YYYY-MM-DD"),
        ({"field": "metadata.age", "op": "gt", "value": "old"}, "conditions.0.value", "date"),
        ({"field": "status", "op": "eq", "value": "gone"}, "conditions.0.value", "opted_out"),
        ({"field": "replied", "op": "within_days", "value": "30"}, "conditions.0.value", "days"),
        ({"field": "tag", "op": "in", "value": [["vip"]]}, "conditions.0.value", "text"),
        ({"field": "email", "op": "eq"}, "conditions.0.value", "text"),
        ("email = x", "conditions.0", "field, op and value"),
    ],
)
def test_a_bad_condition_is_422_naming_it(api_client, condition, place, words):
    response = post(api_client, URL, {"name": "Bad", "conditions": [PRO, condition][1:]})

    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert place in errors and words in " ".join(errors[place])
    assert not SmartGroup.objects.exists()


def test_another_workspace_group_is_422_naming_it(api_client, foreign_group, group):
    body = {
        "name": "Sneaky",
        "conditions": [{"field": "group", "op": "in", "value": [group.pk, foreign_group.pk]}],
        "exclude_group_ids": [foreign_group.pk],
    }

    response = post(api_client, URL, body)

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["conditions.0.value"] == [
        f"Group {foreign_group.pk} is not a group of this workspace."
    ]
    assert "exclude_group_ids.0" in errors
    assert not SmartGroup.objects.exists()


def test_a_bad_patch_changes_nothing(api_client, smart_group):
    url = f"{URL}/{smart_group['id']}"
    bad = {"name": "Renamed", "conditions": [{"field": "email", "op": "nope"}]}

    assert patch(api_client, url, bad).status_code == 422
    assert api_client.get(url).json() == smart_group


def test_nested_conditions_are_refused(api_client):
    nested = {"match": "any", "conditions": [PRO]}

    response = post(api_client, URL, {"name": "Nested", "conditions": [nested]})

    assert response.status_code == 422
    assert "do not nest" in response.json()["errors"]["conditions.0"][0]


def test_huge_condition_sets_are_refused(api_client):
    too_many = post(api_client, URL, {"name": "Huge", "conditions": [PRO] * 51})
    long_list = {"field": "email", "op": "in", "value": ["a@b.c"] * 501}
    too_long = post(api_client, URL, {"name": "Huge", "conditions": [long_list]})

    assert too_many.status_code == 422
    assert "at most 50 conditions" in too_many.json()["errors"]["conditions"][0]
    assert too_long.status_code == 422
    assert "at most 500 values" in too_long.json()["errors"]["conditions.0.value"][0]


@pytest.mark.parametrize("depth,status", [(500, 422), (100_000, 400)])
def test_deeply_nested_json_is_a_clear_error(api_client, depth, status):
    # 500 deep parses, and once walked recursively (the NUL check) was a 500; 100,000 deep
    # is more than the JSON parser takes.
    deep = '{"name": "Deep", "conditions": [' + "[" * depth + "]" * depth + "]}"

    response = api_client.post(URL, deep, content_type="application/json")

    assert response.status_code == status
    assert response.json()["message"]
    assert not SmartGroup.objects.exists()


def test_another_workspace_smart_group_is_404(api_client, other_api_client, smart_group):
    url = f"{URL}/{smart_group['id']}"
    for response in (
        other_api_client.get(url),
        other_api_client.get(f"{url}/count"),
        other_api_client.get(f"{url}/contacts"),
        patch(other_api_client, url, {"name": "Mine"}),
        post(other_api_client, f"{url}/freeze", {"name": "Mine"}),
        other_api_client.delete(url),
    ):
        assert response.status_code == 404
    assert other_api_client.get(URL).json()["count"] == 0
    assert SmartGroup.objects.get().name == "Pro plan"


def test_members_never_include_another_workspace(api_client, smart_group, foreign_contact):
    foreign_contact.metadata = {"plan": "pro"}
    foreign_contact.save()

    page = api_client.get(f"{URL}/{smart_group['id']}/contacts").json()

    assert foreign_contact.pk not in [c["id"] for c in page["items"]]


def test_text_the_database_cannot_store_is_422(api_client):
    condition = {"field": "email", "op": "eq", "value": "a\x00b"}

    response = post(api_client, URL, {"name": "Nul", "conditions": [condition]})

    assert response.status_code == 422
    assert json.loads(response.content)["errors"]
