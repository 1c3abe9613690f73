import pytest
from django.core.exceptions import ValidationError

from audiences.models import SmartGroup
from audiences.selectors import smart_group_members
from audiences.services import smart_group_create, smart_group_freeze, smart_group_update
from contacts.models import ContactGroup, GroupMembership
from tests.factories import ContactFactory, ContactGroupFactory

VIP = {"conditions": [{"field": "tag", "op": "eq", "value": "vip"}]}


def test_create_reports_every_problem_at_once_and_stores_nothing(workspace):
    bad = {"match": "most", "conditions": [{"field": "email", "op": "gt", "value": "a"}]}

    with pytest.raises(ValidationError) as caught:
        smart_group_create(workspace=workspace, name="  ", definition=bad)

    assert set(caught.value.message_dict) == {"name", "match", "conditions.0.op"}
    assert not SmartGroup.objects.exists()


def test_names_are_unique_per_workspace_without_regard_to_case(workspace, other_workspace):
    smart_group_create(workspace=workspace, name="VIPs", definition=VIP)
    smart_group_create(workspace=other_workspace, name="VIPs", definition=VIP)

    with pytest.raises(ValidationError) as caught:
        smart_group_create(workspace=workspace, name="vips ", definition=VIP)

    assert caught.value.error_dict["name"][0].code == "duplicate"


def test_update_keeps_what_is_not_given(workspace):
    group = ContactGroupFactory(workspace=workspace)
    smart_group = smart_group_create(workspace=workspace, name="VIPs", definition=VIP)

    smart_group_update(smart_group=smart_group, definition={"exclude_group_ids": [group.pk]})

    smart_group.refresh_from_db()
    assert smart_group.conditions == VIP["conditions"]
    assert smart_group.exclude_group_ids == [group.pk]
    assert smart_group.match == "all"


def test_a_deleted_group_in_a_condition_matches_no_one_and_is_named_on_the_next_edit(workspace):
    group = ContactGroupFactory(workspace=workspace)
    ContactFactory(workspace=workspace, in_groups=[group])
    definition = {"conditions": [{"field": "group", "op": "in", "value": [group.pk]}]}
    smart_group = smart_group_create(workspace=workspace, name="Members", definition=definition)
    group_id = group.pk
    group.delete()

    assert smart_group_members(smart_group=smart_group).count() == 0
    with pytest.raises(ValidationError) as caught:
        smart_group_update(smart_group=smart_group, definition={"match": "any"})
    assert caught.value.message_dict == {
        "conditions.0.value": [f"Group {group_id} is not a group of this workspace."]
    }


def test_freeze_copies_the_members_of_the_moment(workspace):
    tagged = ContactFactory.create_batch(3, workspace=workspace)
    ContactFactory(workspace=workspace)
    for contact in tagged:
        contact.tags.create(workspace=workspace, name=f"t{contact.pk}")
    smart_group = smart_group_create(
        workspace=workspace,
        name="Tagged",
        definition={"conditions": [{"field": "tag", "op": "set"}]},
    )

    group = smart_group_freeze(smart_group=smart_group, name="Tagged today")
    ContactFactory(workspace=workspace).tags.create(workspace=workspace, name="later")

    members = GroupMembership.objects.filter(group=group)
    assert sorted(m.contact_id for m in members) == sorted(c.pk for c in tagged)
    assert {m.source for m in members} == {"manual"}
    assert smart_group_members(smart_group=smart_group).count() == 4


def test_freeze_with_a_taken_name_creates_nothing(workspace):
    ContactGroupFactory(workspace=workspace, name="Taken")
    smart_group = smart_group_create(workspace=workspace, name="Everyone", definition={})

    with pytest.raises(ValidationError):
        smart_group_freeze(smart_group=smart_group, name="taken")

    assert ContactGroup.objects.count() == 1
    assert not GroupMembership.objects.exists()
