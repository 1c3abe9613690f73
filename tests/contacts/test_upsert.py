"""contacts.upsert.group_contacts_upsert: the duplicate rules behind the API's POST …/contacts."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact, ContactEvent, GroupMembership, Tag
from contacts.upsert import group_contacts_upsert
from tests.factories import ContactFactory, ContactGroupFactory


@pytest.fixture
def group(workspace):
    return ContactGroupFactory(workspace=workspace, name="Leads")


@pytest.fixture
def existing(workspace, group):
    contact = ContactFactory(
        workspace=workspace,
        first_name="Jane",
        last_name="Smith",
        email="jane@example.com",
        phone="+14155551234",
        company="Old Co",
        metadata={"plan": "free", "region": "west"},
    )
    contact.tags.add(Tag.objects.create(workspace=workspace, name="old"))
    return contact


def test_upsert_skip_keeps_existing_matched_by_email_and_adds_it(group, existing):
    result = group_contacts_upsert(
        group=group, items=[{"first_name": "Other", "email": "JANE@example.com"}]
    )

    assert (result.created, result.updated, result.duplicates) == (0, 0, 1)
    existing.refresh_from_db()
    assert existing.first_name == "Jane"
    assert GroupMembership.objects.get(group=group, contact=existing).source == "api"


def test_upsert_update_overwrites_non_empty_values_and_merges_metadata(group, existing):
    result = group_contacts_upsert(
        group=group,
        items=[
            {
                "first_name": "Janet",
                "last_name": "",
                "phone": "+1 415 555 1234",
                "metadata": {"plan": "pro", "seats": 5},
                "tags": ["new"],
            }
        ],
        duplicate_strategy="update",
    )

    assert (result.created, result.updated, result.duplicates) == (0, 1, 0)
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name) == ("Janet", "Smith")
    assert existing.company == "Old Co"
    assert existing.email == "jane@example.com"
    assert existing.metadata == {"plan": "pro", "region": "west", "seats": 5}
    assert sorted(existing.tags.values_list("name", flat=True)) == ["new", "old"]


def test_upsert_create_makes_a_separate_contact(group, existing):
    result = group_contacts_upsert(
        group=group, items=[{"phone": "+14155551234"}], duplicate_strategy="create"
    )

    assert result.created == 1
    assert Contact.objects.filter(phone="+14155551234").count() == 2


def test_upsert_finds_duplicates_within_the_batch(workspace, group):
    result = group_contacts_upsert(
        group=group,
        items=[
            {"first_name": "A", "email": "a@example.com", "phone": "+14155555678"},
            {"first_name": "A again", "email": "A@example.com"},
            {"phone": "(415) 555-5678"},
        ],
        duplicate_strategy="skip",
    )

    assert (result.created, result.duplicates) == (1, 2)
    assert len(set(result.contact_ids)) == 1
    assert Contact.objects.count() == 1


def test_upsert_update_within_the_batch_updates_the_new_contact(workspace, group):
    result = group_contacts_upsert(
        group=group,
        items=[{"email": "a@example.com"}, {"email": "a@example.com", "company": "Acme"}],
        duplicate_strategy="update",
    )

    assert (result.created, result.updated) == (1, 1)
    assert Contact.objects.get().company == "Acme"


def test_upsert_reports_invalid_items_by_index_and_keeps_the_rest(workspace, group):
    result = group_contacts_upsert(
        group=group,
        items=[{"first_name": "No method"}, {"email": "ok@example.com"}, {"email": "bad@"}],
    )

    assert (result.created, result.invalid) == (1, 2)
    assert [e["index"] for e in result.errors] == [0, 2]
    assert "email" in result.errors[1]["errors"]
    assert result.contact_ids[0] is None and result.contact_ids[2] is None


def test_upsert_ignores_other_workspaces_contacts(group, other_workspace):
    foreign = ContactFactory(workspace=other_workspace, email="same@example.com")

    result = group_contacts_upsert(group=group, items=[{"email": "same@example.com"}])

    assert result.created == 1
    assert result.contact_ids[0] != foreign.pk
    assert not GroupMembership.objects.filter(contact=foreign, group=group).exists()


def test_upsert_rejects_unknown_strategy(group):
    with pytest.raises(ValidationError):
        group_contacts_upsert(
            group=group, items=[{"email": "a@example.com"}], duplicate_strategy="x"
        )
    assert not Contact.objects.exists()


def test_upsert_counts_add_up_to_the_batch(workspace, group, existing):
    other_group = ContactGroupFactory(workspace=workspace)
    items = [{"email": "jane@example.com"}, {"email": "new@example.com"}, {"phone": "1"}]

    result = group_contacts_upsert(group=other_group, items=items, duplicate_strategy="skip")

    assert result.created + result.updated + result.duplicates + result.invalid == len(items)
    assert other_group.memberships.count() == 2


def test_upsert_new_contacts_get_tags_events_and_derived_fields(workspace, group):
    Tag.objects.create(workspace=workspace, name="vip")

    result = group_contacts_upsert(
        group=group,
        items=[
            {"phone": "(415) 555-0100", "tags": ["vip", "new"]},
            {"email": "b@example.com", "tags": ["new"], "timezone": "Europe/Paris"},
        ],
    )

    first, second = (Contact.objects.get(pk=pk) for pk in result.contact_ids)
    assert first.phone == "+14155550100"
    assert first.timezone == "America/Los_Angeles" and first.line_type
    assert second.timezone == "Europe/Paris"
    assert sorted(first.tags.values_list("name", flat=True)) == ["new", "vip"]
    assert list(second.tags.values_list("name", flat=True)) == ["new"]
    assert Tag.objects.filter(workspace=workspace).count() == 2
    events = ContactEvent.objects.filter(kind="created", detail="api")
    assert sorted(events.values_list("contact_id", flat=True)) == sorted(result.contact_ids)


def test_upsert_update_merges_into_a_contact_new_in_the_batch(workspace, group):
    result = group_contacts_upsert(
        group=group,
        items=[
            {"email": "a@example.com", "metadata": {"x": 1}, "tags": ["one"]},
            {"email": "a@example.com", "first_name": "Ann", "metadata": {"y": 2}, "tags": ["two"]},
        ],
        duplicate_strategy="update",
    )

    contact = Contact.objects.get()
    assert result.contact_ids == [contact.pk, contact.pk]
    assert contact.first_name == "Ann"
    assert contact.metadata == {"x": 1, "y": 2}
    assert sorted(contact.tags.values_list("name", flat=True)) == ["one", "two"]


def test_upsert_uses_a_few_queries_per_batch_not_per_contact(
    workspace, group, django_assert_max_num_queries
):
    items = [{"email": f"n{n}@example.com", "tags": ["t"]} for n in range(50)]

    with django_assert_max_num_queries(20):
        result = group_contacts_upsert(group=group, items=items)

    assert result.created == 50


def test_upsert_skipped_item_does_not_lend_its_phone_to_the_match(workspace, group):
    result = group_contacts_upsert(
        group=group,
        items=[
            {"email": "a@example.com"},
            {"email": "a@example.com", "phone": "+14155550100"},
            {"phone": "+14155550100"},
        ],
    )

    assert (result.created, result.duplicates) == (2, 1)
    assert Contact.objects.get(pk=result.contact_ids[0]).phone == ""


def test_upsert_update_of_many_existing_contacts_in_a_few_queries(
    workspace, group, django_assert_max_num_queries
):
    existing = [
        ContactFactory(workspace=workspace, email=f"e{n}@example.com", metadata={"a": n})
        for n in range(30)
    ]
    items = [{"email": f"e{n}@example.com", "company": "New", "tags": ["u"]} for n in range(30)]

    with django_assert_max_num_queries(20):
        result = group_contacts_upsert(group=group, items=items, duplicate_strategy="update")

    assert result.updated == 30
    contact = Contact.objects.get(pk=existing[7].pk)
    assert (contact.company, contact.metadata) == ("New", {"a": 7})
    assert list(contact.tags.values_list("name", flat=True)) == ["u"]
    assert contact.updated_at > contact.created_at
