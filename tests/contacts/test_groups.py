import pytest
from django.core.exceptions import ValidationError

from contacts import groups
from contacts.models import Contact
from tests.factories import ContactFactory, ContactGroupFactory


def test_group_create_rejects_duplicate_name_case_insensitively(workspace, other_workspace):
    groups.group_create(workspace=workspace, name="Customers")
    with pytest.raises(ValidationError) as exc:
        groups.group_create(workspace=workspace, name=" customers ")
    assert exc.value.error_dict["name"][0].code == "duplicate"
    # The same name in another workspace is fine.
    groups.group_create(workspace=other_workspace, name="Customers")


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_group_create_rejects_bad_names(workspace, name):
    with pytest.raises(ValidationError) as exc:
        groups.group_create(workspace=workspace, name=name)
    assert "name" in exc.value.message_dict


def test_group_update_renames_unless_taken(workspace):
    a = groups.group_create(workspace=workspace, name="A")
    groups.group_create(workspace=workspace, name="B")
    with pytest.raises(ValidationError):
        groups.group_update(group=a, name="b")
    groups.group_update(group=a, name="A2", description="new")
    a.refresh_from_db()
    assert (a.name, a.description) == ("A2", "new")


def test_group_add_contacts_skips_foreign_and_existing(workspace, other_workspace):
    group = ContactGroupFactory(workspace=workspace)
    mine = ContactFactory(workspace=workspace, in_groups=[group])
    new = ContactFactory(workspace=workspace)
    foreign = ContactFactory(workspace=other_workspace)
    groups.group_add_contacts(group=group, contact_ids=[mine.pk, new.pk, foreign.pk])
    assert set(group.contacts.values_list("pk", flat=True)) == {mine.pk, new.pk}


def test_contacts_move_only_moves_members_of_the_source(workspace):
    source, target = ContactGroupFactory.create_batch(2, workspace=workspace)
    member = ContactFactory(workspace=workspace, in_groups=[source])
    outsider = ContactFactory(workspace=workspace)
    moved = groups.contacts_move(source=source, target=target, contact_ids=[member.pk, outsider.pk])
    assert moved == 1
    assert list(target.contacts.all()) == [member]
    assert not source.contacts.exists()


def test_contacts_move_refuses_a_group_of_another_workspace(workspace, other_workspace):
    source = ContactGroupFactory(workspace=workspace)
    foreign = ContactGroupFactory(workspace=other_workspace)
    member = ContactFactory(workspace=workspace, in_groups=[source])
    with pytest.raises(ValidationError):
        groups.contacts_move(source=source, target=foreign, contact_ids=[member.pk])
    assert list(source.contacts.all()) == [member]


def test_contacts_copy_keeps_the_source_membership(workspace):
    source, target = ContactGroupFactory.create_batch(2, workspace=workspace)
    member = ContactFactory(workspace=workspace, in_groups=[source])
    assert groups.contacts_copy(target=target, contact_ids=[member.pk]) == 1
    assert set(member.groups.all()) == {source, target}


def test_group_delete_keeps_contacts(workspace):
    group = ContactGroupFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace, in_groups=[group])
    groups.group_delete(group=group)
    assert Contact.objects.filter(pk=contact.pk).exists()
